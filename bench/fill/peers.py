"""The Python peers of the fill benchmark, run one job per process, with the same job file and
JSON answer as the Rust driver (`driver/src/main.rs`): `python peers.py JOB.json` prints
`{"times_s": [...], "rss_before_fill_kib": N, "rss_peak_kib": N}`.

Engines and the settings each gets:
- `opencv-telea`, `opencv-ns`: `cv2.inpaint` with radius 3 (OpenCV's documented example).
- `pypatchmatch`: `patchmatch.inpaint(patch_size=3)`, the patch size of its README examples and
  of InvokeAI's infill. Its default (15) is ~10× slower here and scores no better.
- `patchmatch-cython`: `inpaint_pyramid` with its defaults (patch 5, Cython solver, seam blend).

Only the fill call is timed; reading, conversions and writing are outside the clock.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

TELEA_RADIUS = 3
PYPATCHMATCH_PATCH = 3


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def make_filler(engine: str, seed: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function (RGB uint8 HxWx3, mask uint8 HxW nonzero = fill) -> filled RGB."""
    if engine in ("opencv-telea", "opencv-ns"):
        import cv2

        flag = cv2.INPAINT_TELEA if engine == "opencv-telea" else cv2.INPAINT_NS
        return lambda img, mask: cv2.inpaint(img, mask, TELEA_RADIUS, flag)
    if engine == "pypatchmatch":
        import patchmatch

        if not patchmatch.patchmatch_available:
            raise RuntimeError("pypatchmatch's native library did not load")

        def fill_pm(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
            patchmatch.set_random_seed(seed)
            return patchmatch.inpaint(img, mask, patch_size=PYPATCHMATCH_PATCH)

        return fill_pm
    if engine == "patchmatch-cython":
        import patchmatch_cython

        return lambda img, mask: patchmatch_cython.inpaint_pyramid(img, mask > 0, seed=seed)
    raise ValueError(f"unknown engine {engine!r}")


def run(job: dict) -> dict:
    img = np.asarray(Image.open(job["image"]).convert("RGB"), dtype=np.uint8)
    mask = np.asarray(Image.open(job["mask"]).convert("L"), dtype=np.uint8)
    fill = make_filler(job["engine"], int(job["seed"]))
    rss_before = peak_rss_kib()
    times: list[float] = []
    started = time.perf_counter()
    out = img
    while True:
        t0 = time.perf_counter()
        out = fill(img, mask)
        times.append(time.perf_counter() - t0)
        if len(times) >= job["repeats"] or time.perf_counter() - started >= job["budget_s"]:
            break
    rss_peak = peak_rss_kib()
    Image.fromarray(np.asarray(out, dtype=np.uint8)).save(job["output"])
    return {"times_s": times, "rss_before_fill_kib": rss_before, "rss_peak_kib": rss_peak}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: peers.py JOB.json")
    print(json.dumps(run(json.loads(Path(sys.argv[1]).read_text()))))
