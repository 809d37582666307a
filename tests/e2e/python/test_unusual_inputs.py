"""Valid but unusual inputs decode correctly: 16-bit, palette + tRNS, grey + alpha, APNG,
WebP with alpha, JPEG with EXIF orientation, 1x1; several images (`image[]`) and the JSON body.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
import requests
from openai import OpenAI
from PIL import Image, ImageOps

from support.images import (
    EditCase,
    Hole,
    assert_known_pixels_unchanged,
    decode_b64,
    photo_like,
    png_bytes,
    rgba_with_hole,
    transparent_hole_case,
)
from support.server import Server

W, H = 120, 96
HOLE = Hole(40, 30, 75, 60)
EDIT = HOLE.edit_mask(W, H)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def rgba16_png(rgba8: np.ndarray) -> bytes:
    """A 16-bit RGBA PNG whose samples are the 8-bit ones times 257 (exact under any rounding)."""
    h, w, _ = rgba8.shape
    samples = rgba8.astype(">u2") * 257
    raw = b"".join(b"\x00" + samples[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def case_16bit() -> EditCase:
    rgb = photo_like(W, H, seed=31)
    return EditCase(rgba16_png(rgba_with_hole(rgb, EDIT)), None, rgb, EDIT)


def case_palette_trns() -> EditCase:
    rgb = photo_like(W, H, seed=32)
    pal = Image.fromarray(rgb).quantize(colors=200)
    idx = np.asarray(pal).copy()
    idx[EDIT] = 255
    img = Image.fromarray(idx, mode="P")
    palette = pal.getpalette() or []
    palette = (palette + [0] * 768)[:768]
    palette[255 * 3 : 255 * 3 + 3] = [255, 0, 255]
    img.putpalette(palette)
    buf = io.BytesIO()
    img.save(buf, format="PNG", transparency=255)
    known = np.asarray(img.convert("RGB"))
    return EditCase(buf.getvalue(), None, known, EDIT)


def case_grey_alpha() -> EditCase:
    grey = np.asarray(Image.fromarray(photo_like(W, H, seed=33)).convert("L"))
    la = np.dstack([grey, np.where(EDIT, 0, 255).astype(np.uint8)])
    buf = io.BytesIO()
    Image.fromarray(la, mode="LA").save(buf, format="PNG")
    return EditCase(buf.getvalue(), None, np.dstack([grey] * 3), EDIT)


def case_apng() -> EditCase:
    rgb = photo_like(W, H, seed=34)
    first = Image.fromarray(rgba_with_hole(rgb, EDIT))
    second = Image.fromarray(np.dstack([255 - rgb, np.full((H, W), 255, np.uint8)]))
    buf = io.BytesIO()
    first.save(buf, format="PNG", save_all=True, append_images=[second], duration=100, loop=0)
    data = buf.getvalue()
    assert b"acTL" in data, "Pillow did not write an APNG"
    return EditCase(data, None, rgb, EDIT)


def case_webp_alpha() -> EditCase:
    rgb = photo_like(W, H, seed=35)
    buf = io.BytesIO()
    Image.fromarray(rgba_with_hole(rgb, EDIT)).save(buf, format="WEBP", lossless=True, exact=True)
    return EditCase(buf.getvalue(), None, rgb, EDIT)


def case_jpeg_exif_rotated() -> EditCase:
    """Stored 96x120 with Orientation=6: displayed (and edited) as 120x96, the mask in that frame."""
    displayed = photo_like(W, H, seed=36)
    stored = Image.fromarray(displayed).transpose(Image.Transpose.ROTATE_90)  # undone by orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    data = buf.getvalue()
    seen = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert seen.shape == (H, W, 3)
    mask = np.zeros((H, W, 4), np.uint8)
    mask[..., 3] = np.where(EDIT, 0, 255)
    return EditCase(data, png_bytes(mask), seen, EDIT)


def case_one_pixel() -> EditCase:
    px = np.array([[[12, 200, 99, 255]]], np.uint8)
    mask = np.full((1, 1, 4), 255, np.uint8)
    return EditCase(png_bytes(px), png_bytes(mask), px[..., :3], np.zeros((1, 1), bool))


CASES = {
    "16-bit-rgba": (case_16bit, 0),
    "palette-trns": (case_palette_trns, 0),
    "grey-alpha": (case_grey_alpha, 0),
    "apng-default-image": (case_apng, 0),
    "webp-lossless-alpha": (case_webp_alpha, 0),
    "jpeg-exif-orientation-6": (case_jpeg_exif_rotated, 2),
    "1x1-nothing-to-edit": (case_one_pixel, 0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_unusual_file_decodes_correctly(client: OpenAI, name: str) -> None:
    make, tolerance = CASES[name]
    case = make()
    kwargs: dict[str, object] = {}
    if case.mask_png is not None:
        kwargs["mask"] = ("mask.png", case.mask_png, "image/png")
    resp = client.images.edit(image=case.image_png, prompt=name, response_format="b64_json", **kwargs)
    assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), case, tolerance=tolerance)


def test_several_images_mask_applies_to_the_first(client: OpenAI) -> None:
    first = transparent_hole_case(W, H, seed=41)
    other = png_bytes(photo_like(64, 64, seed=42))
    resp = client.images.edit(
        image=[("a.png", first.image_png, "image/png"), ("b.png", other, "image/png")],
        prompt="two images",
        response_format="b64_json",
    )
    assert len(resp.data) == 1
    assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), first)


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def test_json_body_with_data_urls(server: Server) -> None:
    opaque = photo_like(W, H, seed=43)
    mask = np.zeros((H, W, 4), np.uint8)
    mask[..., 3] = np.where(EDIT, 0, 255)
    case = EditCase(png_bytes(opaque), png_bytes(mask), opaque, EDIT)
    assert case.mask_png is not None
    r = requests.post(
        server.url("/v1/images/edits"),
        json={
            "model": "gpt-image-1.5",
            "prompt": "json body",
            "images": [{"image_url": data_url(case.image_png)}],
            "mask": {"image_url": data_url(case.mask_png)},
        },
        timeout=120,
    )
    assert r.status_code == 200, r.text[:400]
    assert r.headers.get("x-portkey-provider") == "local"
    doc = r.json()
    assert isinstance(doc["created"], int)
    assert doc["size"] == f"{W}x{H}"
    assert_known_pixels_unchanged(decode_b64(doc["data"][0]["b64_json"]), case)
