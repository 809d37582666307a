"""Successful edits through the official OpenAI Python SDK on the default (local engine) route.

Every result is checked pixel by pixel: known pixels come back unchanged, edited ones filled.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from openai import OpenAI

from support.images import (
    EditCase,
    assert_known_pixels_unchanged,
    assert_png,
    decode,
    decode_b64,
    transparent_hole_case,
)


def check_local_response(raw, before: float) -> object:  # type: ignore[no-untyped-def]
    """Headers every local edit carries, and the always-present `created`."""
    assert raw.headers.get("x-portkey-provider") == "local"
    assert raw.headers.get("x-retouch-model") == "retouch-fill"
    assert raw.headers.get("x-request-id"), "no x-request-id"
    assert raw.headers.get("content-type", "").startswith("application/json")
    resp = raw.parse()
    assert isinstance(resp.created, int)
    assert before - 5 <= resp.created <= time.time() + 5
    assert resp.data, "no data[]"
    return resp


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_single_image_with_transparency(client: OpenAI, hole_case: EditCase, tmp_path: Path) -> None:
    path = write(tmp_path, "photo.png", hole_case.image_png)
    before = time.time()
    with path.open("rb") as f:
        raw = client.images.with_raw_response.edit(image=f, prompt="remove the hole", response_format="b64_json")
    resp = check_local_response(raw, before)
    assert len(resp.data) == 1
    assert resp.data[0].url is None
    out = decode_b64(resp.data[0].b64_json)
    assert_png(out)
    assert_known_pixels_unchanged(out, hole_case)


def test_image_and_mask(client: OpenAI, mask_case: EditCase, tmp_path: Path) -> None:
    image = write(tmp_path, "opaque.png", mask_case.image_png)
    assert mask_case.mask_png is not None
    mask = write(tmp_path, "mask.png", mask_case.mask_png)
    before = time.time()
    with image.open("rb") as fi, mask.open("rb") as fm:
        raw = client.images.with_raw_response.edit(
            image=fi, mask=fm, prompt="fill the masked area", response_format="b64_json"
        )
    resp = check_local_response(raw, before)
    assert len(resp.data) == 1
    out = decode_b64(resp.data[0].b64_json)
    assert_png(out)
    assert_known_pixels_unchanged(out, mask_case)


def test_default_model_and_format_return_b64(client: OpenAI, hole_case: EditCase) -> None:
    """No `model`, no `response_format`: the spec's default model (a GPT image model) answers b64."""
    resp = client.images.edit(image=("photo.png", hole_case.image_png, "image/png"), prompt="fill")
    assert len(resp.data) == 1
    assert resp.data[0].b64_json, f"expected b64_json by default, got {resp.data[0]!r}"
    assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), hole_case)


def test_n3_gives_three_distinct_fills(client: OpenAI, hole_case: EditCase) -> None:
    resp = client.images.edit(
        image=("photo.png", hole_case.image_png, "image/png"), prompt="three takes", n=3, response_format="b64_json"
    )
    assert len(resp.data) == 3
    results = [assert_known_pixels_unchanged(decode_b64(d.b64_json), hole_case) for d in resp.data]
    for i in range(3):
        for j in range(i + 1, 3):
            same = np.array_equal(results[i][hole_case.edit], results[j][hole_case.edit])
            assert not same, f"fills {i} and {j} are identical"


SIZES = [
    ("dall-e-2", "256x256", (256, 256)),
    ("dall-e-2", "512x512", (512, 512)),
    ("dall-e-2", "1024x1024", (1024, 1024)),
    ("gpt-image-1.5", "1024x1024", (1024, 1024)),
    ("gpt-image-1.5", "1536x1024", (1536, 1024)),
    ("gpt-image-1.5", "1024x1536", (1024, 1536)),
    ("gpt-image-1.5", "auto", None),  # the input's own size
    ("gpt-image-2", "320x208", (320, 208)),  # a custom WxH
    (None, "640x480", (640, 480)),
]


@pytest.mark.parametrize(("model", "size", "expected"), SIZES, ids=[f"{m}-{s}" for m, s, _ in SIZES])
def test_size_sets_output_dimensions(
    client: OpenAI, model: str | None, size: str, expected: tuple[int, int] | None
) -> None:
    case = transparent_hole_case(192, 160, seed=3)
    kwargs: dict[str, object] = {"size": size, "response_format": "b64_json"}
    if model:
        kwargs["model"] = model
    resp = client.images.edit(image=("photo.png", case.image_png, "image/png"), prompt="resize", **kwargs)
    out = decode_b64(resp.data[0].b64_json)
    img = assert_png(out)
    want = expected or (case.width, case.height)
    assert img.size == want, f"size={size!r} gave {img.size}, want {want}"
    if expected is None:
        # `auto` keeps the input size, so the known pixels can be checked exactly too.
        assert_known_pixels_unchanged(out, case)
    if model and model.startswith("gpt-image"):
        assert resp.size == f"{want[0]}x{want[1]}", f"response size {resp.size!r}"


def test_no_size_keeps_input_size_for_odd_dimensions(client: OpenAI) -> None:
    case = transparent_hole_case(203, 97, fraction=0.1, seed=5)
    resp = client.images.edit(image=("odd.png", case.image_png, "image/png"), prompt="fill", response_format="b64_json")
    assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), case)


def test_gpt_image_response_fields_are_resolved(client: OpenAI, hole_case: EditCase) -> None:
    resp = client.images.edit(
        image=("photo.png", hole_case.image_png, "image/png"), prompt="fill", model="gpt-image-1.5"
    )
    assert resp.size == f"{hole_case.width}x{hole_case.height}"
    assert resp.output_format == "png"
    assert resp.quality in ("low", "medium", "high"), resp.quality
    assert resp.background in ("transparent", "opaque"), resp.background
    assert resp.usage is not None, "gpt-image responses carry usage"
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), hole_case)


def test_list_form_sends_image_array(client: OpenAI, hole_case: EditCase, tmp_path: Path) -> None:
    path = write(tmp_path, "listed.png", hole_case.image_png)
    with path.open("rb") as f:
        resp = client.images.edit(image=[f], prompt="list form", response_format="b64_json")
    assert len(resp.data) == 1
    assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), hole_case)


def test_bytes_input_named_upload(client: OpenAI, hole_case: EditCase) -> None:
    """Raw bytes go out as `filename="upload"`, `application/octet-stream`: sniffed, not trusted."""
    resp = client.images.edit(image=hole_case.image_png, prompt="bytes", response_format="b64_json")
    assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), hole_case)


def test_bytes_mask_and_image(client: OpenAI, mask_case: EditCase) -> None:
    assert mask_case.mask_png is not None
    resp = client.images.edit(
        image=mask_case.image_png, mask=mask_case.mask_png, prompt="bytes both", response_format="b64_json"
    )
    assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), mask_case)


@pytest.mark.parametrize(("fmt", "pil_format"), [("jpeg", "JPEG"), ("webp", "WEBP"), ("png", "PNG")])
def test_output_format(client: OpenAI, mask_case: EditCase, fmt: str, pil_format: str) -> None:
    assert mask_case.mask_png is not None
    resp = client.images.edit(
        image=("opaque.png", mask_case.image_png, "image/png"),
        mask=("mask.png", mask_case.mask_png, "image/png"),
        prompt="formats",
        model="gpt-image-1.5",
        output_format=fmt,  # type: ignore[arg-type]
    )
    assert resp.output_format == fmt
    out = decode_b64(resp.data[0].b64_json)
    img = decode(out)
    assert img.format == pil_format, f"asked for {fmt}, got {img.format}"
    assert img.size == (mask_case.width, mask_case.height)
    assert_known_pixels_unchanged(out, mask_case, tolerance=0 if fmt == "png" else 6)


def test_jpeg_input_with_mask(client: OpenAI, mask_case: EditCase) -> None:
    """JPEG input (no alpha) edited through a mask; known pixels match the decoded JPEG."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(mask_case.original_rgb).save(buf, format="JPEG", quality=95)
    jpeg = buf.getvalue()
    decoded = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    case = EditCase(jpeg, mask_case.mask_png, decoded, mask_case.edit)
    assert case.mask_png is not None
    resp = client.images.edit(
        image=("photo.jpg", jpeg, "image/jpeg"),
        mask=("mask.png", case.mask_png, "image/png"),
        prompt="jpeg in",
        response_format="b64_json",
    )
    # Decoders may round differently by a step; the bound is far below any real change.
    assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), case, tolerance=1)


def test_dalle2_prompt_over_1000_accepted_on_local_route(client: OpenAI, hole_case: EditCase) -> None:
    """The default route validates with retouch-fill's rules whatever `model` says (prompt <= 32000)."""
    resp = client.images.edit(
        image=("photo.png", hole_case.image_png, "image/png"),
        prompt="x" * 1500,
        model="dall-e-2",
        response_format="b64_json",
    )
    assert_known_pixels_unchanged(decode_b64(resp.data[0].b64_json), hole_case)


def test_request_ids_are_unique(client: OpenAI, hole_case: EditCase) -> None:
    ids = set()
    for _ in range(3):
        raw = client.images.with_raw_response.edit(
            image=("photo.png", hole_case.image_png, "image/png"), prompt="ids", response_format="b64_json"
        )
        ids.add(raw.headers["x-request-id"])
    assert len(ids) == 3
