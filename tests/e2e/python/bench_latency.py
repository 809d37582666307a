"""Latency of a 512x512 local edit (12% square hole) through the official OpenAI Python SDK.

Not a test: starts its own server, sends a few warm-up requests, then N timed ones one after
another, and prints p50/p90/mean/min/max in milliseconds (and one JSON line for scripts).

    RETOUCH_BIN=target/debug/retouch tests/e2e/python/.venv/bin/python tests/e2e/python/bench_latency.py [-n 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.images import assert_known_pixels_unchanged, decode_b64, transparent_hole_case  # noqa: E402
from support.sdk import sdk_client  # noqa: E402
from support.server import retouch_bin, start_server  # noqa: E402


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_ms) - 1, round(q / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--requests", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--hole", type=float, default=0.12, help="hole area as a fraction of the image")
    args = ap.parse_args()

    case = transparent_hole_case(args.size, args.size, fraction=args.hole, seed=23)
    srv = start_server()
    try:
        client = sdk_client(srv)
        image = ("bench.png", case.image_png, "image/png")
        for _ in range(args.warmup):
            client.images.edit(image=image, prompt="warm up", response_format="b64_json")
        times: list[float] = []
        for i in range(args.requests):
            t0 = time.perf_counter()
            resp = client.images.edit(image=image, prompt="fill the hole", response_format="b64_json")
            times.append((time.perf_counter() - t0) * 1000)
            if i == 0:
                assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), case)
        code = srv.stop()
    finally:
        srv.cleanup()
    s = sorted(times)
    result = {
        "binary": retouch_bin(),
        "image": f"{args.size}x{args.size}",
        "hole_fraction": args.hole,
        "requests": len(s),
        "p50_ms": round(percentile(s, 50), 1),
        "p90_ms": round(percentile(s, 90), 1),
        "mean_ms": round(statistics.fmean(s), 1),
        "min_ms": round(s[0], 1),
        "max_ms": round(s[-1], 1),
        "server_exit": code,
    }
    print(
        f"{args.size}x{args.size} local edit, {int(args.hole * 100)}% hole, {len(s)} requests via the OpenAI SDK: "
        f"p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms, mean {result['mean_ms']} ms, "
        f"min {result['min_ms']} ms, max {result['max_ms']} ms"
    )
    print(json.dumps(result))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
