"""Quality metrics of a fill against the untouched photograph, each restricted to the hole.

- `masked_psnr`: PSNR over the hole's pixels (RGB), infinite for an exact fill.
- `masked_ssim`: the mean, over the hole, of the SSIM map (Wang et al. 2004: Gaussian window
  sigma 1.5, RGB channels averaged), computed on the whole image so windows see the context.
- `gmsd`: gradient magnitude similarity deviation (Xue et al. 2014): the standard deviation of
  the per-pixel gradient-magnitude similarity over the hole grown by 2 px (so the seam counts).
  Prewitt gradients of luminance, c = 170 as in the paper; unlike the paper's whole-image score
  there is no 2× downsampling first, so 2-3 px scratches are not averaged away. 0 = identical.
- `gradient_energy_ratio`: sum of squared gradient magnitude inside the hole, fill over truth.
  1.0 = as much detail as the truth; diffusion fills are far below, noise would be above.
- `known_pixels_changed`: how many pixels outside the hole an engine altered (must be 0).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity

# GMSD's stability constant for 8-bit images with the 1/3-normalised Prewitt kernel.
GMSD_C = 170.0

_PREWITT_X = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float64) / 3.0
_PREWITT_Y = _PREWITT_X.T


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an HxWx3 image, as float64 in 0..255."""
    f = rgb.astype(np.float64)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def gradient_magnitude(rgb: np.ndarray) -> np.ndarray:
    y = luminance(rgb)
    gx = ndimage.convolve(y, _PREWITT_X, mode="nearest")
    gy = ndimage.convolve(y, _PREWITT_Y, mode="nearest")
    return np.hypot(gx, gy)


def masked_psnr(fill: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    diff = fill[hole].astype(np.float64) - truth[hole].astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / mse)


def masked_ssim(fill: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    _, smap = structural_similarity(
        truth,
        fill,
        channel_axis=2,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )
    return float(np.mean(smap.mean(axis=2)[hole]))


def gmsd(fill: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    g_fill = gradient_magnitude(fill)
    g_truth = gradient_magnitude(truth)
    gms = (2.0 * g_fill * g_truth + GMSD_C) / (g_fill**2 + g_truth**2 + GMSD_C)
    region = ndimage.binary_dilation(hole, iterations=2)
    return float(np.std(gms[region]))


def gradient_energy_ratio(fill: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    e_fill = float(np.sum(gradient_magnitude(fill)[hole] ** 2))
    e_truth = float(np.sum(gradient_magnitude(truth)[hole] ** 2))
    if e_truth == 0.0:
        return math.inf if e_fill > 0.0 else 1.0
    return e_fill / e_truth


def known_pixels_changed(fill: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> tuple[int, int]:
    """(number of known pixels whose RGB differs from the input, largest channel difference)."""
    known = ~hole
    diff = np.abs(fill[known].astype(np.int16) - truth[known].astype(np.int16))
    changed = int(np.count_nonzero(diff.max(axis=1))) if diff.size else 0
    return changed, int(diff.max()) if diff.size else 0


def score(fill: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    """Every metric above for one fill (`fill`, `truth`: HxWx3 uint8; `hole`: HxW bool)."""
    if fill.shape != truth.shape:
        raise ValueError(f"fill is {fill.shape}, truth is {truth.shape}")
    changed, max_diff = known_pixels_changed(fill, truth, hole)
    return {
        "psnr": masked_psnr(fill, truth, hole),
        "ssim": masked_ssim(fill, truth, hole),
        "gmsd": gmsd(fill, truth, hole),
        "grad_ratio": gradient_energy_ratio(fill, truth, hole),
        "known_changed": float(changed),
        "known_max_diff": float(max_diff),
    }
