"""The benchmark's inputs: square crops of scikit-image's bundled photographs at each size, and
the four deterministic mask types (centred square, brush strokes, thin scratches, object blob).

Masks are drawn from resolution-independent geometry (coordinates and widths as fractions of
the side), so a mask type has the same shape at 256, 512 and 1024 px; strokes are added until
the mask reaches its target coverage at the size being drawn. Everything here depends only on
fixed seeds: two runs write identical files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from PIL import Image

# Photographs that ship inside the scikit-image wheel (no pooch download needed).
# Their native sizes are 300-640 px on the short side, so 1024 px inputs are upscaled.
PHOTOS: dict[str, str] = {
    "astronaut": "astronaut",
    "coffee": "coffee",
    "chelsea": "chelsea",
    "rocket": "rocket",
}

MASK_TYPES: tuple[str, ...] = ("square", "brush", "scratches", "blob")

# Target share of the image each mask type covers.
MASK_COVERAGE: dict[str, float] = {"square": 0.12, "brush": 0.15, "scratches": 0.03, "blob": 0.25}


@dataclass(frozen=True)
class Case:
    """One image at one size with one mask: every engine fills exactly these two files."""

    photo: str
    size: int
    mask_type: str
    truth_path: Path  # the photograph, untouched: what the fills are scored against
    image_path: Path  # the photograph with the hole painted `sentinel`: what every engine receives
    mask_path: Path
    sentinel: tuple[int, int, int]  # a colour the photograph does not contain

    @property
    def key(self) -> str:
        return f"{self.photo}-{self.size}-{self.mask_type}"


def photo_native_size(name: str) -> tuple[int, int]:
    """(width, height) of the photograph as bundled."""
    img = getattr(skimage.data, PHOTOS[name])()
    return int(img.shape[1]), int(img.shape[0])


def load_photo(name: str, size: int) -> np.ndarray:
    """The photograph's centred square crop resized to `size` (Lanczos), as HxWx3 uint8 RGB."""
    img = getattr(skimage.data, PHOTOS[name])()
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError(f"{name} is not an RGB photograph")
    img = img[:, :, :3]
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(np.ascontiguousarray(img[top : top + side, left : left + side]))
    return np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def make_mask(mask_type: str, size: int) -> np.ndarray:
    """The mask of `mask_type` at `size`: HxW uint8, 255 = fill, 0 = known."""
    target = MASK_COVERAGE[mask_type]
    if mask_type == "square":
        return _square(size, target)
    if mask_type == "blob":
        return _blob(size, target)
    if mask_type == "brush":
        return _strokes(size, target, np.random.default_rng(0xB2054), _brush_stroke)
    if mask_type == "scratches":
        return _strokes(size, target, np.random.default_rng(0x5C2A7C), _scratch)
    raise ValueError(f"unknown mask type {mask_type!r}")


def coverage(mask: np.ndarray) -> float:
    return float(np.count_nonzero(mask)) / mask.size


def _square(size: int, target: float) -> np.ndarray:
    side = round(size * math.sqrt(target))
    off = (size - side) // 2
    mask = np.zeros((size, size), np.uint8)
    mask[off : off + side, off : off + side] = 255
    return mask


def _blob(size: int, target: float) -> np.ndarray:
    """A smooth irregular object: a circle with a few low-frequency radial bumps, placed a
    little off centre, scaled (by bisection) until it covers `target` of the image."""
    rng = np.random.default_rng(0xB10B)
    harmonics = [(k, rng.uniform(0.05, 0.14) / k**0.5, rng.uniform(0, 2 * math.pi)) for k in range(2, 6)]
    theta = np.linspace(0, 2 * math.pi, 720, endpoint=False)
    shape = 1 + sum(a * np.cos(k * theta + ph) for k, a, ph in harmonics)
    centre = np.array([0.54, 0.56])

    def draw(radius: float) -> np.ndarray:
        pts = np.stack(
            [centre[0] + radius * shape * np.cos(theta), centre[1] + radius * shape * np.sin(theta)], 1
        )
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [np.round(pts * size).astype(np.int32)], 255)
        return mask

    lo, hi = 0.05, 0.45
    for _ in range(40):
        mid = (lo + hi) / 2
        if coverage(draw(mid)) < target:
            lo = mid
        else:
            hi = mid
    return draw(hi)


Stroke = tuple[np.ndarray, float]  # (polyline points in [0, 1]^2, width as a fraction of the side)


def _brush_stroke(rng: np.random.Generator) -> Stroke:
    """A free-form brush stroke in the style of DeepFill v2's masks: a short random walk with
    sharp turns, drawn with a round brush."""
    pts = [rng.uniform(0.12, 0.88, 2)]
    angle = rng.uniform(0, 2 * math.pi)
    for _ in range(int(rng.integers(4, 8))):
        angle += rng.uniform(-2.0, 2.0)
        step = rng.uniform(0.06, 0.16)
        nxt = np.clip(pts[-1] + step * np.array([math.cos(angle), math.sin(angle)]), 0.03, 0.97)
        pts.append(nxt)
    return np.array(pts), rng.uniform(0.025, 0.05)


def _scratch(rng: np.random.Generator) -> Stroke:
    """A long thin scratch: a gently curving line across a good part of the picture."""
    start = rng.uniform(0.05, 0.95, 2)
    angle = rng.uniform(0, 2 * math.pi)
    length = rng.uniform(0.3, 0.8)
    n = 24
    pts = [start]
    for _ in range(n):
        angle += rng.normal(0, 0.08)
        nxt = pts[-1] + (length / n) * np.array([math.cos(angle), math.sin(angle)])
        if not np.all((nxt >= 0.0) & (nxt <= 1.0)):
            break  # the scratch runs off the picture
        pts.append(nxt)
    return np.array(pts), rng.uniform(0.003, 0.006)


def _strokes(size: int, target: float, rng: np.random.Generator, stroke) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    while coverage(mask) < target:
        pts, width = stroke(rng)
        px = np.round(pts * (size - 1)).astype(np.int32)
        # At least 2 px: a 1 px line is not a scratch anyone would retouch.
        thickness = max(2, round(width * size))
        cv2.polylines(mask, [px], False, 255, thickness=thickness, lineType=cv2.LINE_8)
        for p in px:
            cv2.circle(mask, (int(p[0]), int(p[1])), thickness // 2, 255, -1)
    return mask


def absent_colour(img: np.ndarray) -> tuple[int, int, int]:
    """The first of a few saturated colours that no pixel of `img` has."""
    present = {tuple(int(c) for c in p) for p in np.unique(img.reshape(-1, 3), axis=0)}
    for colour in ((255, 0, 255), (0, 255, 255), (255, 255, 0), (0, 255, 0), (1, 2, 3)):
        if colour not in present:
            return colour
    raise ValueError("every candidate sentinel colour occurs in the photo")


def write_cases(root: Path, photos: list[str], sizes: list[int]) -> list[Case]:
    """Writes under `root` every mask type × size, every photo × size (the truth) and every
    photo × size × mask input, and returns the cases in the order the bench runs them
    (smallest size first)."""
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    for size in sizes:
        mask_paths: dict[str, Path] = {}
        for mask_type in MASK_TYPES:
            path = root / f"mask-{mask_type}-{size}.png"
            Image.fromarray(make_mask(mask_type, size)).save(path)
            mask_paths[mask_type] = path
        for photo in photos:
            truth = load_photo(photo, size)
            truth_path = root / f"{photo}-{size}.png"
            Image.fromarray(truth).save(truth_path)
            sentinel = absent_colour(truth)
            for mask_type in MASK_TYPES:
                # The hole is painted over, so that no engine can copy the answer from under the
                # mask, with a colour absent from the photo, so that a fill that leaves hole
                # pixels untouched or copies them from inside the hole shows up in the counts.
                erased = truth.copy()
                erased[make_mask(mask_type, size) > 0] = sentinel
                image_path = root / f"{photo}-{size}-{mask_type}-input.png"
                Image.fromarray(erased).save(image_path)
                cases.append(
                    Case(photo, size, mask_type, truth_path, image_path, mask_paths[mask_type], sentinel)
                )
    return cases
