"""Rejections seen through the official OpenAI Python SDK's exceptions.

Where the reference (`shared/reference/openai-images-edits.md` §4) quotes OpenAI's exact text,
the test asserts that text; elsewhere it asserts status, type, param and that the message
names what to fix.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import numpy as np
import openai
import pytest
from openai import OpenAI

from support.images import EditCase, png_bytes, photo_like


def expect_error(call: Callable[[], object], status: int, exc: type[openai.APIStatusError]) -> openai.APIStatusError:
    with pytest.raises(exc) as info:
        call()
    e = info.value
    assert e.status_code == status
    assert e.request_id, "x-request-id missing on an error response"
    assert isinstance(e.body, dict), f"error body is not OpenAI's JSON shape: {e.body!r}"
    assert {"message", "type", "param", "code"} <= set(e.body), f"error body keys: {sorted(e.body)}"
    assert e.message == f"Error code: {status} - {e.body['message']}"
    assert e.response.headers.get("content-type", "").startswith("application/json")
    return e


def png_file(case: EditCase) -> tuple[str, bytes, str]:
    return ("photo.png", case.image_png, "image/png")


def test_missing_image(client: OpenAI) -> None:
    e = expect_error(lambda: client.images.edit(image=[], prompt="no image"), 400, openai.BadRequestError)
    assert e.type == "invalid_request_error"
    assert e.param == "image"
    assert e.code == "missing_required_parameter"
    assert e.body["message"] == "Missing required parameter: 'image'."  # type: ignore[index]


def test_prompt_too_long(client: OpenAI, hole_case: EditCase) -> None:
    e = expect_error(
        lambda: client.images.edit(image=png_file(hole_case), prompt="p" * 32001), 400, openai.BadRequestError
    )
    assert e.type == "invalid_request_error"
    assert e.param == "prompt"
    assert e.code == "string_above_max_length"
    assert e.body["message"] == (  # type: ignore[index]
        "Invalid 'prompt': string too long. Expected a string with maximum length 32000, "
        "but got a string with length 32001 instead."
    )


def test_prompt_too_long_with_dalle2_model_uses_local_limit(client: OpenAI, hole_case: EditCase) -> None:
    """On the default route retouch-fill's limit (32000) applies even when model says dall-e-2."""
    e = expect_error(
        lambda: client.images.edit(image=png_file(hole_case), prompt="p" * 32005, model="dall-e-2"),
        400,
        openai.BadRequestError,
    )
    assert e.param == "prompt"
    assert e.code == "string_above_max_length"
    assert "maximum length 32000" in e.body["message"]  # type: ignore[index]
    assert "length 32005" in e.body["message"]  # type: ignore[index]


def test_n_above_max(client: OpenAI, hole_case: EditCase) -> None:
    e = expect_error(
        lambda: client.images.edit(image=png_file(hole_case), prompt="n", n=11), 400, openai.BadRequestError
    )
    assert e.type == "invalid_request_error"
    assert e.param == "n"
    assert e.code == "integer_above_max_value"
    assert e.body["message"] == (  # type: ignore[index]
        "Invalid 'n': integer above maximum value. Expected a value <= 10, but got 11 instead."
    )


def test_n_below_min(client: OpenAI, hole_case: EditCase) -> None:
    e = expect_error(lambda: client.images.edit(image=png_file(hole_case), prompt="n", n=0), 400, openai.BadRequestError)
    assert e.param == "n"
    assert e.code == "integer_below_min_value"
    assert e.body["message"] == (  # type: ignore[index]
        "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."
    )


@pytest.mark.parametrize("size", ["big", "1024", "1024x", "x1024", "0x512", "-5x5", "1024X1024x"])
def test_bad_size_string(client: OpenAI, hole_case: EditCase, size: str) -> None:
    e = expect_error(
        lambda: client.images.edit(image=png_file(hole_case), prompt="size", size=size), 400, openai.BadRequestError
    )
    assert e.type == "invalid_request_error"
    assert e.param == "size"
    assert e.code == "invalid_value"
    assert e.body["message"].startswith(f"Invalid value: '{size}'. Supported values are: "), e.body  # type: ignore[index]


def test_size_above_pixel_limit(client: OpenAI, hole_case: EditCase) -> None:
    e = expect_error(
        lambda: client.images.edit(image=png_file(hole_case), prompt="size", size="8192x8192"),
        400,
        openai.BadRequestError,
    )
    assert e.param == "size"
    assert "8192x8192" in e.body["message"]  # type: ignore[index]


def test_mask_size_mismatch(client: OpenAI, hole_case: EditCase) -> None:
    mask = np.zeros((100, 120, 4), dtype=np.uint8)
    mask[..., 3] = 255
    mask[10:40, 10:40, 3] = 0
    e = expect_error(
        lambda: client.images.edit(
            image=png_file(hole_case), mask=("mask.png", png_bytes(mask), "image/png"), prompt="mask"
        ),
        400,
        openai.BadRequestError,
    )
    assert e.type == "invalid_request_error"
    assert e.param == "mask"
    assert e.code == "invalid_value"
    msg = e.body["message"]  # type: ignore[index]
    assert "120x100" in msg and "256x256" in msg, f"message should give both sizes: {msg!r}"


@pytest.mark.parametrize(
    "upload",
    [
        ("notes.txt", b"this is not an image, just text\n" * 20, "text/plain"),
        ("fake.png", b"this is not an image, just text\n" * 20, "image/png"),
        ("fake.gif", b"GIF89a" + bytes(200), "image/gif"),
    ],
    ids=["text-plain", "text-named-png", "gif"],
)
def test_non_image_file(client: OpenAI, upload: tuple[str, bytes, str]) -> None:
    e = expect_error(lambda: client.images.edit(image=upload, prompt="nope"), 400, openai.BadRequestError)
    assert e.param == "image"
    assert e.type == "image_generation_user_error"
    assert e.code == "invalid_image_file"
    assert e.body["message"].startswith("Invalid input image - ")  # type: ignore[index]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def corrupt_pngs() -> dict[str, bytes]:
    good = png_bytes(photo_like(64, 64))
    # Flip one byte inside the IDAT payload: the chunk CRC no longer matches.
    idat = good.find(b"IDAT")
    bad_crc = bytearray(good)
    bad_crc[idat + 10] ^= 0xFF
    truncated = good[: len(good) // 2]
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    no_idat = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IEND", b"")
    garbage_idat = (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"\x00garbage-not-zlib") + _chunk(b"IEND", b"")
    )
    signature_only = b"\x89PNG\r\n\x1a\n"
    return {
        "bad-crc": bytes(bad_crc),
        "truncated": truncated,
        "no-idat": no_idat,
        "garbage-idat": garbage_idat,
        "signature-only": signature_only,
    }


@pytest.mark.parametrize("name", sorted(corrupt_pngs()))
def test_corrupt_png(client: OpenAI, name: str) -> None:
    data = corrupt_pngs()[name]
    e = expect_error(
        lambda: client.images.edit(image=("broken.png", data, "image/png"), prompt="corrupt"),
        400,
        openai.BadRequestError,
    )
    assert e.param == "image", f"param {e.param!r}"
    assert e.code == "invalid_image_file"
    assert e.body["message"].startswith("Invalid input image - ")  # type: ignore[index]


def test_bad_response_format(client: OpenAI, hole_case: EditCase) -> None:
    e = expect_error(
        lambda: client.images.edit(image=png_file(hole_case), prompt="rf", response_format="gif"),  # type: ignore[arg-type]
        400,
        openai.BadRequestError,
    )
    assert e.param == "response_format"
    assert e.code == "invalid_value"
    assert e.body["message"] == "Invalid value: 'gif'. Supported values are: 'url' and 'b64_json'."  # type: ignore[index]


def test_bad_output_format(client: OpenAI, hole_case: EditCase) -> None:
    e = expect_error(
        lambda: client.images.edit(image=png_file(hole_case), prompt="of", output_format="bmp"),  # type: ignore[arg-type]
        400,
        openai.BadRequestError,
    )
    assert e.param == "output_format"
    assert "bmp" in e.body["message"]  # type: ignore[index]


def test_too_many_images(client: OpenAI, hole_case: EditCase) -> None:
    files = [(f"p{i}.png", hole_case.image_png, "image/png") for i in range(17)]
    e = expect_error(lambda: client.images.edit(image=files, prompt="17"), 400, openai.BadRequestError)
    assert e.param == "image"
    assert e.code == "array_above_max_length"
    assert e.body["message"] == (  # type: ignore[index]
        "Invalid 'image': array too long. Expected an array with maximum length 16, "
        "but got an array with length 17 instead."
    )
