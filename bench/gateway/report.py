"""Turns a gateway-benchmark results JSON into docs/gateway-benchmark.md: the derived figures
(overhead over direct, memory per in-flight request, correctness) and the tables."""

from __future__ import annotations

import math

TARGET_OVERHEAD_MS = 3.0
TARGET_MEMORY_RATIO = 1.25
MIB = 1024 * 1024


def percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile of an ascending list (the smallest value with at least `q` of
    the values at or below it)."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def merge_rounds(results: list[dict]) -> dict:
    """One phase's loadgen results from several rounds as one: latencies pooled (percentiles
    recomputed from every sample), counts summed."""
    lat = sorted(v for r in results for v in r["latencies_us"])
    first = results[0]
    merged = {k: first[k] for k in ("url", "model", "concurrency", "payload_bytes",
                                     "image_bytes", "image_sha256")}
    merged["rounds"] = len(results)
    for key in ("requests", "warmup", "ok", "bad_body", "transport_errors", "sent"):
        merged[key] = sum(r[key] for r in results)
    merged["elapsed_s"] = sum(r["elapsed_s"] for r in results)
    merged["throughput_rps"] = merged["requests"] / max(merged["elapsed_s"], 1e-9)
    statuses: dict[str, int] = {}
    for r in results:
        for status, n in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    merged["statuses"] = statuses
    merged["first_failure"] = next((r["first_failure"] for r in results if r["first_failure"]),
                                   None)
    merged["mock"] = {k: sum(r["mock"][k] for r in results) for k in first["mock"]}
    merged["latency"] = {
        "count": len(lat),
        "p50_ms": percentile(lat, 0.50) / 1000,
        "p90_ms": percentile(lat, 0.90) / 1000,
        "p99_ms": percentile(lat, 0.99) / 1000,
        "max_ms": (lat[-1] if lat else 0) / 1000,
        "mean_ms": (sum(lat) / len(lat) if lat else 0) / 1000,
    }
    return merged


def overhead_ms(entry: dict, direct: dict, phase: str) -> float | None:
    """Gateway p50 minus direct p50 for one phase (`c1` or `c8`), in ms."""
    if phase not in entry or phase not in direct:
        return None
    return entry[phase]["latency"]["p50_ms"] - direct[phase]["latency"]["p50_ms"]


def memory_ratio(idle_kib: int, peak_kib: int, inflight: int, payload_bytes: int) -> float:
    """Memory the gateway grew by while `inflight` requests were held, per request, in payloads."""
    return (peak_kib - idle_kib) * 1024 / (inflight * payload_bytes)


def phase_correct(result: dict) -> bool:
    """Every request answered 200 with an image, and the mock saw the exact image every time."""
    mock = result["mock"]
    return (
        result["ok"] == result["requests"]
        and mock["image_ok"] == result["sent"]
        and mock["image_mismatch"] == 0
        and mock["image_missing"] == 0
    )


def correctness(entry: dict) -> str:
    phases = [entry[p] for p in ("c1", "c8") if p in entry]
    memory = entry.get("memory")
    if memory and "mock" in memory:
        phases.append(memory)
    if "error" in entry or not phases:
        return "failed"
    bad = [p for p in phases if not phase_correct(p)]
    if not bad:
        return "yes"
    mismatched = sum(p["mock"]["image_mismatch"] + p["mock"]["image_missing"] for p in phases)
    failed = sum(p["requests"] - p["ok"] for p in phases)
    parts = []
    if mismatched:
        parts.append(f"{mismatched} image(s) altered or missing at the upstream")
    if failed:
        parts.append(f"{failed} request(s) not answered 200 with an image")
    return "**no**: " + ", ".join(parts)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def derive(results: dict) -> dict[str, dict]:
    """Per gateway: overheads, memory figures and correctness, keyed by name."""
    by_name = {g["name"]: g for g in results["gateways"]}
    direct = by_name.get("direct", {})
    derived = {}
    for name, g in by_name.items():
        d: dict = {"correct": correctness(g)}
        for phase in ("c1", "c8"):
            d[f"overhead_{phase}"] = None if name == "direct" else overhead_ms(g, direct, phase)
        mem = g.get("memory") or {}
        if "memory" in mem and mem["memory"]:
            m = mem["memory"]
            d["idle_mib"] = m["idle_rss_kib"] / 1024
            d["peak_mib"] = m["peak_rss_kib"] / 1024
            d["ratio"] = memory_ratio(m["idle_rss_kib"], m["peak_rss_kib"], mem["requests"],
                                      mem["payload_bytes"])
            d["memory_ok"] = phase_correct(mem)
        derived[name] = d
    return derived


def _latency_rows(results: dict, derived: dict) -> list[str]:
    rows = [
        "| gateway | c=1 p50 | p90 | p99 | overhead (p50) | c=8 p50 | p90 | p99 "
        "| overhead (p50) | c=8 req/s | correct |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for g in results["gateways"]:
        d = derived[g["name"]]
        if "error" in g:
            rows.append(f"| {g['name']} | did not run (below) |" + " – |" * 8
                        + f" {d['correct']} |")
            continue
        c1, c8 = g["c1"]["latency"], g["c8"]["latency"]
        rows.append(
            f"| {g['name']} | {_ms(c1['p50_ms'])} | {_ms(c1['p90_ms'])} | {_ms(c1['p99_ms'])} "
            f"| {_signed(d['overhead_c1'])} | {_ms(c8['p50_ms'])} | {_ms(c8['p90_ms'])} "
            f"| {_ms(c8['p99_ms'])} | {_signed(d['overhead_c8'])} "
            f"| {g['c8']['throughput_rps']:.0f} | {d['correct']} |"
        )
    return rows


def _memory_rows(results: dict, derived: dict) -> list[str]:
    k = results["plan"]["inflight"]
    rows = [
        f"| gateway | idle RSS (MiB) | peak RSS, {k} in flight (MiB) | growth (MiB) "
        "| per in-flight request (× payload) |",
        "|---|---:|---:|---:|---:|",
    ]
    for g in results["gateways"]:
        d = derived[g["name"]]
        if g["name"] == "direct":
            continue
        if "ratio" not in d:
            why = (g.get("memory") or {}).get("error") or g.get("error") or "not measured"
            rows.append(f"| {g['name']} | – | – | – | not measured ({why[:80]}) |")
            continue
        rows.append(
            f"| {g['name']} | {d['idle_mib']:.1f} | {d['peak_mib']:.1f} "
            f"| {d['peak_mib'] - d['idle_mib']:.1f} | {d['ratio']:.2f}× |"
        )
    return rows


def _peer_rows(derived: dict) -> list[str]:
    us = derived.get("retouch")
    if not us:
        return []
    rows = [
        "| retouch vs | p50 overhead, c=1 | p50 overhead, c=8 | memory per in-flight request |",
        "|---|---:|---:|---:|",
    ]

    def times(ours: float | None, theirs: float | None) -> str:
        if ours is None or theirs is None:
            return "–"
        if ours <= 0 or theirs <= 0:
            return f"{ours:.2f} vs {theirs:.2f}"
        if theirs >= ours:
            return f"{theirs / ours:.1f}× less"
        return f"{ours / theirs:.1f}× more"

    for peer in ("portkey", "litellm"):
        p = derived.get(peer)
        if not p:
            continue
        rows.append(
            f"| {peer} | {times(us['overhead_c1'], p['overhead_c1'])} "
            f"| {times(us['overhead_c8'], p['overhead_c8'])} "
            f"| {times(us.get('ratio'), p.get('ratio'))} |"
        )
    return rows


def render(results: dict, before: dict | None) -> str:
    derived = derive(results)
    plan, machine, image = results["plan"], results["machine"], results["image"]
    us = derived.get("retouch", {})
    payload = next((g["c1"]["payload_bytes"] for g in results["gateways"] if "c1" in g), None)
    lines = [
        "# Gateway benchmark",
        "",
        "How much time and memory a gateway adds when it forwards an OpenAI image edit — "
        "retouch, Portkey's open-source gateway and LiteLLM's proxy, each in front of the same "
        "mock OpenAI upstream, against the mock reached directly. Generated by "
        "`bench/gateway/run.sh` from `bench/gateway/results/full.json`; do not edit by hand.",
        "",
        "## Targets (issue 5, item 4)",
        "",
        "| target | retouch | met |",
        "|---|---:|---|",
    ]
    if us:
        o1 = us.get("overhead_c1")
        ratio = us.get("ratio")
        lines.append(f"| p50 overhead ≤ {TARGET_OVERHEAD_MS:g} ms (concurrency 1) "
                     f"| {_signed(o1)} ms | {_yes(o1 is not None and o1 <= TARGET_OVERHEAD_MS)} |")
        lines.append(f"| memory ≤ {TARGET_MEMORY_RATIO:g}× payload per in-flight 4 MB request "
                     f"| {'–' if ratio is None else f'{ratio:.2f}×'} "
                     f"| {_yes(ratio is not None and ratio <= TARGET_MEMORY_RATIO)} |")
        lines.append(f"| every image reaches the upstream byte-identical, every answer 200 "
                     f"| {us['correct']} | {_yes(us['correct'] == 'yes')} |")
        floor = derived.get("relay", {}).get("overhead_c1")
        if floor is not None and o1 is not None:
            lines += [
                "",
                f"For scale: the `relay` row below, a bare store-and-forward relay with no "
                f"parsing at all, adds {_signed(floor)} ms at concurrency 1 on this machine — "
                f"the cost of the second 4 MB hop itself. "
                + (f"retouch adds {_signed(o1 - floor)} ms on top of that floor."
                   if o1 >= floor else
                   f"retouch is {floor - o1:.2f} ms under that floor: the relay gathers the "
                   "body in pieces and then joins them, where retouch copies each piece once "
                   "into a buffer reserved at the declared length."),
            ]
    lines += [
        "",
        "## Latency",
        "",
        f"Milliseconds from sending the request to the last byte of the answer; overhead is the "
        f"gateway's p50 minus the direct p50. Concurrency 1: {plan['c1_requests']} requests, "
        f"concurrency 8: {plan['c8_requests']}, after {plan['warmup']} unmeasured ones. All "
        f"gateways run side by side and each phase is taken in {plan.get('rounds', 1)} rounds "
        "that visit them in turn (rotating the order), so drift in the machine's load is shared "
        "rather than pinned on one gateway.",
        "",
        *_latency_rows(results, derived),
        "",
        "## Memory",
        "",
        f"Resident memory (VmRSS, summed over the gateway's process tree, sampled every 5 ms) of "
        f"a freshly started gateway: idle after two requests and a 1.5 s pause, then the peak "
        f"while {plan['inflight']} requests are held in flight by the mock "
        f"({plan['hold_ms']} ms delay after it has read each body). Per in-flight request = "
        f"(peak − idle) / ({plan['inflight']} × {payload or 0:,} bytes of request body).",
        "",
        *_memory_rows(results, derived),
        "",
    ]
    peers = _peer_rows(derived)
    if peers:
        lines += ["## retouch against the peers", "", *peers, ""]
    failures = [g for g in results["gateways"] if "error" in g]
    if failures:
        lines += ["## What did not run", ""]
        for g in failures:
            lines.append(f"- **{g['name']}** {g['version']}: {g['error']}")
        lines.append("")
    seen = _failures_seen(results)
    if seen:
        lines += ["## Failed requests", "", *seen, ""]
    if "retouch-before" in derived:
        lines += _before_after_same_run(results, derived)
    elif before:
        lines += _before_after(before, results)
    lines += [
        "## Notes",
        "",
        "- **The floor.** Every gateway here buffers the whole request before it forwards it "
        "(retouch must: it validates the edit and resends the same bytes on a retry or fallback), "
        "so each pays a second 4 MB loopback hop. The `relay` row measures that hop alone, which "
        "is why overhead is also given over the relay. The relay's memory figure is no floor: it "
        "gathers the body in pieces and then copies it into one buffer.",
        "- **Where retouch's own time goes** (perf, concurrency 1): copying. The multipart "
        "parser copies the body once in user space into a buffer reserved at the declared "
        "`Content-Length` (address space only; pages are mapped as they fill). Only a body of "
        "unknown or over-limit length sends parts past 256 KiB through a spill file (written, "
        "then read back once), so an oversized upload is refused without ever being held in "
        "memory. Parsing, validation (PNG header only), routing and the response are a small "
        "share.",
        "- **Portkey** 1.15.2 installed as npm resolves it (`@hono/node-server` 1.19.x) answers "
        "every image edit with 500 `Something went wrong` (`TypeError: immutable`, "
        "[Portkey-AI/gateway#1389](https://github.com/Portkey-AI/gateway/issues/1389)); "
        "`bench/gateway/package.json` pins `@hono/node-server` 1.13.5, the version in the "
        "gateway's own lock file, with which edits work.",
        "- **LiteLLM** 1.106 refuses to start without a master key; the bench sets a throwaway "
        "one and sends it as the bearer token. `LITELLM_LOCAL_MODEL_COST_MAP=True` keeps it "
        "offline.",
        "",
        "## Setup",
        "",
        f"- Run: {results['started_utc']}, {results['duration_s']:.0f} s, mode `{results['mode']}`.",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Linux {machine['kernel']}; load average {machine['load_average_at_start']} at the "
        f"start, {machine.get('load_average_at_end', '?')} at the end (this machine is shared "
        "with builds, so absolute numbers move between runs; compare rows within one run).",
        f"- Request: `POST /v1/images/edits`, multipart with a {image['bytes']:,}-byte PNG "
        f"(sha256 `{image['sha256'][:16]}…`, 1160×1160 RGB, grain over a gradient), "
        "`model=gpt-image-1` (validated from the PNG header, no decode) and a prompt; the "
        "same prebuilt bytes every time.",
        "- Upstream: `mock-upstream` (Rust, hyper) reads the whole body, hashes the image part "
        "and counts matches against the sent file, answers a fixed `ImagesResponse` with a 1×1 "
        "PNG in `b64_json`.",
        "- Loader: `loadgen` (Rust, reqwest, HDR histogram), keep-alive connections, one worker "
        "per concurrent request.",
        "",
        "| gateway | version | how it is run |",
        "|---|---|---|",
    ]
    for g in results["gateways"]:
        lines.append(f"| {g['name']} | {g['version']} | {g['how']} |")
    lines += [
        "",
        "Reproduce: `bench/gateway/run.sh` (full, ~10 min) or `bench/gateway/run.sh --quick`.",
        "",
    ]
    return "\n".join(lines)


def _failures_seen(results: dict) -> list[str]:
    """One line per phase in which some request failed, with the first failure's text."""
    out = []
    for g in results["gateways"]:
        for label, key in (("concurrency 1", "c1"), ("concurrency 8", "c8"), ("memory", "memory")):
            r = g.get(key) or {}
            if "requests" not in r or r["ok"] == r["requests"]:
                continue
            first = (r.get("first_failure") or "").replace("|", "\\|")[:240]
            out.append(f"- **{g['name']}**, {label}: {r['requests'] - r['ok']} of {r['requests']} "
                       f"failed; the first: `{first}`")
    return out


def _before_after_same_run(results: dict, derived: dict) -> list[str]:
    def row(label: str, d: dict) -> str:
        ratio = "–" if d.get("ratio") is None else f"{d['ratio']:.2f}×"
        return (f"| {label} | {_signed(d.get('overhead_c1'))} | {_signed(d.get('overhead_c8'))} "
                f"| {ratio} |")

    return [
        "## retouch against an earlier build",
        "",
        f"Both builds in this run, interleaved like every other row. Earlier: "
        f"`{_version(results, 'retouch-before')}`. Now: `{_version(results, 'retouch')}`.",
        "",
        "| retouch | p50 overhead, c=1 (ms) | p50 overhead, c=8 (ms) | memory per in-flight request |",
        "|---|---:|---:|---:|",
        row("before", derived["retouch-before"]),
        row("after", derived["retouch"]),
        "",
    ]


def _version(results: dict, name: str) -> str:
    return next((g["version"] for g in results["gateways"] if g["name"] == name), "?")


def _before_after(before: dict, after: dict) -> list[str]:
    b = derive(before).get("retouch", {})
    a = derive(after).get("retouch", {})
    if not b or not a:
        return []

    def ratio(d: dict) -> str:
        return "–" if d.get("ratio") is None else f"{d['ratio']:.2f}×"

    return [
        "## retouch before and after the forwarding fixes",
        "",
        f"Before: retouch `{_version(before, 'retouch')}` ({before['started_utc']}, "
        "`bench/gateway/results/full-before-fix.json`), which copied each upload past 2 MiB into "
        "its spill file through many small blocking writes and read it back through a growing "
        f"buffer. After: `{_version(after, 'retouch')}`, this run. Each row against the direct "
        "p50 of its own run.",
        "",
        "| retouch | p50 overhead, c=1 (ms) | p50 overhead, c=8 (ms) | memory per in-flight request |",
        "|---|---:|---:|---:|",
        f"| before | {_signed(b.get('overhead_c1'))} | {_signed(b.get('overhead_c8'))} "
        f"| {ratio(b)} |",
        f"| after | {_signed(a.get('overhead_c1'))} | {_signed(a.get('overhead_c8'))} "
        f"| {ratio(a)} |",
        "",
    ]
