"""Probes of the quality targets themselves: fills made on purpose with more gradient energy,
scored like an engine's, to show what the gradient-energy target costs in GMSD and PSNR.

- `shifted_truth`: the hole takes the photograph's own pixels from `d` px up and to the left.
  The texture is of exactly the right kind and amount (gradient-energy ratio about 1), only
  misplaced by `d` px: a closer guess than an engine can make from the rest of the photograph.
- `sharpened`: our fill with an unsharp mask (Gaussian σ 1) inside the hole, so that its own
  content carries more gradient energy.

`probe_scores` scores both families for one of our fills. The report finds the gentlest
sharpening that reaches the target's lower bound and compares the GMSD and PSNR that it and
the shifted truths reach with the peers' (see `report.probe_rows`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

import metrics

SHIFTS_PX = (2, 4, 8)
SHARPEN_AMOUNTS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
SHARPEN_SIGMA = 1.0


def shifted_truth(truth: np.ndarray, hole: np.ndarray, d: int) -> np.ndarray:
    """`truth` with each hole pixel (y, x) replaced by the truth at (y - d, x - d), clamped to
    the image."""
    h, w = hole.shape
    ys, xs = np.nonzero(hole)
    out = truth.copy()
    out[ys, xs] = truth[np.clip(ys - d, 0, h - 1), np.clip(xs - d, 0, w - 1)]
    return out


def detail(fill: np.ndarray) -> np.ndarray:
    """`fill − blur(fill)` (Gaussian σ `SHARPEN_SIGMA`), as float64."""
    f = fill.astype(np.float64)
    return f - ndimage.gaussian_filter(f, sigma=(SHARPEN_SIGMA, SHARPEN_SIGMA, 0), mode="nearest")


def sharpened(
    fill: np.ndarray, hole: np.ndarray, amount: float, fine: np.ndarray | None = None
) -> np.ndarray:
    """`fill + amount × detail(fill)` inside the hole, rounded and clamped to 8 bits; the known
    pixels stay as they are. `fine` is `detail(fill)` when the caller already has it."""
    fine = detail(fill) if fine is None else fine
    sharp = np.clip(np.rint(fill + amount * fine), 0, 255).astype(np.uint8)
    out = fill.copy()
    out[hole] = sharp[hole]
    return out


def _scores(fill: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    return {
        "psnr": metrics.masked_psnr(fill, truth, hole),
        "gmsd": metrics.gmsd(fill, truth, hole),
        "grad_ratio": metrics.gradient_energy_ratio(fill, truth, hole),
    }


def probe_scores(fill: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> dict[str, dict[str, float]]:
    """PSNR, GMSD and gradient-energy ratio of every probe: keys `shift{d}` and `sharpen{amount}`."""
    out = {f"shift{d}": _scores(shifted_truth(truth, hole, d), truth, hole) for d in SHIFTS_PX}
    fine = detail(fill)
    for a in SHARPEN_AMOUNTS:
        out[f"sharpen{a}"] = _scores(sharpened(fill, hole, a, fine), truth, hole)
    return out
