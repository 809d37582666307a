"""Test images made at test time, and the checks every local-engine result must pass.

The pictures are photo-like on purpose (smooth gradients, fine texture, hard edges), so a
fill has something to copy from and a wrong copy shows. The central check is
`assert_known_pixels_unchanged`: every pixel the caller did not ask to edit comes back
bit for bit, and every edited pixel is filled (opaque, within the colours of the image).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image


def photo_like(width: int, height: int, seed: int = 7) -> np.ndarray:
    """An RGB uint8 picture with gradients, texture and edges, deterministic per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    fx, fy = x / max(width - 1, 1), y / max(height - 1, 1)
    r = 40 + 150 * fx + 20 * np.sin(y / 7.0)
    g = 60 + 120 * fy + 15 * np.sin((x + y) / 5.0)
    b = 90 + 80 * (1 - fx) * fy + 25 * np.cos(x / 9.0)
    img = np.stack([r, g, b], axis=-1)
    # Hard-edged shapes: a dark bar and a bright disc.
    bar = (np.abs(x - width * 0.3) < width * 0.04) & (y > height * 0.1)
    img[bar] = (30, 35, 40)
    disc = (x - width * 0.7) ** 2 + (y - height * 0.35) ** 2 < (min(width, height) * 0.12) ** 2
    img[disc] = (235, 210, 60)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Hole:
    """A rectangle to edit: x0..x1, y0..y1 (exclusive ends)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @staticmethod
    def centered(width: int, height: int, area_fraction: float) -> Hole:
        side_w = max(1, round(width * area_fraction**0.5))
        side_h = max(1, round(height * area_fraction**0.5))
        x0 = (width - side_w) // 2
        y0 = (height - side_h) // 2
        return Hole(x0, y0, x0 + side_w, y0 + side_h)

    def edit_mask(self, width: int, height: int) -> np.ndarray:
        """Boolean (H, W): True where the edit is asked for."""
        m = np.zeros((height, width), dtype=bool)
        m[self.y0 : self.y1, self.x0 : self.x1] = True
        return m


@dataclass(frozen=True)
class EditCase:
    """An image to send, the optional mask to send, and the truth to check the result with."""

    image_png: bytes
    mask_png: bytes | None
    original_rgb: np.ndarray  # (H, W, 3) uint8: what known pixels must come back as
    edit: np.ndarray  # (H, W) bool: True = edited

    @property
    def width(self) -> int:
        return int(self.original_rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.original_rgb.shape[0])


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def rgba_with_hole(rgb: np.ndarray, edit: np.ndarray) -> np.ndarray:
    alpha = np.where(edit, 0, 255).astype(np.uint8)
    rgba = np.dstack([rgb, alpha])
    # What sits under a transparent pixel must not matter; make it loud so leaks show.
    rgba[edit, :3] = (255, 0, 255)
    return rgba


def transparent_hole_case(width: int = 256, height: int = 256, fraction: float = 0.12, seed: int = 7) -> EditCase:
    """One RGBA PNG whose transparent rectangle is the area to edit (no mask)."""
    rgb = photo_like(width, height, seed)
    edit = Hole.centered(width, height, fraction).edit_mask(width, height)
    return EditCase(png_bytes(rgba_with_hole(rgb, edit)), None, rgb, edit)


def masked_case(width: int = 256, height: int = 256, fraction: float = 0.12, seed: int = 11) -> EditCase:
    """An opaque RGB PNG plus an RGBA mask PNG whose alpha=0 rectangle is the area to edit."""
    rgb = photo_like(width, height, seed)
    hole = Hole(width // 8, height // 2, width // 8 + width // 4, height // 2 + height // 4)
    edit = hole.edit_mask(width, height)
    mask = np.zeros((height, width, 4), dtype=np.uint8)
    mask[..., 3] = np.where(edit, 0, 255)
    return EditCase(png_bytes(rgb), png_bytes(mask), rgb, edit)


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def decode_b64(b64: str | None) -> bytes:
    assert b64, "expected a non-empty b64_json"
    return base64.b64decode(b64, validate=True)


def assert_png(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"not a PNG: starts {data[:8]!r}"
    return decode(data)


def assert_known_pixels_unchanged(result: bytes, case: EditCase, *, tolerance: int = 0) -> np.ndarray:
    """The result has the input's size, keeps every known pixel, and fills every edited one.

    `tolerance` is 0 for lossless outputs; lossy formats (jpeg, lossy webp) pass a bound on
    the mean absolute difference instead of exact equality. Returns the result as RGB.
    """
    img = decode(result)
    assert img.size == (case.width, case.height), f"result is {img.size}, input was {(case.width, case.height)}"
    rgba = np.asarray(img.convert("RGBA"))
    rgb = rgba[..., :3].astype(np.int16)
    known = ~case.edit
    orig = case.original_rgb.astype(np.int16)
    if tolerance == 0:
        diff = np.any(rgb != orig, axis=-1) & known
        count = int(diff.sum())
        if count:
            ys, xs = np.nonzero(diff)
            y, x = int(ys[0]), int(xs[0])
            raise AssertionError(
                f"{count} known pixels changed; first at (x={x}, y={y}): "
                f"sent {tuple(int(v) for v in orig[y, x])}, got {tuple(int(v) for v in rgb[y, x])}"
            )
        assert np.all(rgba[known, 3] == 255), "known opaque pixels came back with alpha != 255"
    else:
        mad = float(np.abs(rgb[known] - orig[known]).mean())
        assert mad <= tolerance, f"known pixels differ by {mad:.2f} on average (lossy bound {tolerance})"
    if case.edit.any():
        assert np.all(rgba[case.edit, 3] == 255), "edited pixels are not opaque: the hole was not filled"
        filled = rgb[case.edit]
        # Filled from the rest of the image: inside the image's own colour range, and not
        # the magenta painted under the transparent hole.
        lo, hi = orig[known].min(axis=0), orig[known].max(axis=0)
        slack = 8 if tolerance == 0 else 8 + 4 * tolerance
        assert np.all(filled >= lo - slack) and np.all(filled <= hi + slack), (
            f"filled pixels leave the image's colour range {lo.tolist()}..{hi.tolist()}: "
            f"{filled.min(axis=0).tolist()}..{filled.max(axis=0).tolist()}"
        )
        magenta = np.all(np.abs(filled - np.array([255, 0, 255])) < 40, axis=-1)
        assert magenta.mean() < 0.01, "the hole still shows the colour hidden under the transparent pixels"
        assert filled.std(axis=0).max() > 1.0, "the hole was filled with one flat colour"
    return rgb.astype(np.uint8)
