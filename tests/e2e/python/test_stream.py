"""`stream=true`: server-sent events read by the SDK's own streaming iteration, and on the wire."""

from __future__ import annotations

import json

import requests
from openai import OpenAI

from support.images import (
    EditCase,
    assert_known_pixels_unchanged,
    assert_png,
    decode,
    decode_b64,
    transparent_hole_case,
)
from support.server import Server

SIZES = {"1024x1024", "1024x1536", "1536x1024", "auto"}


def check_event_common(ev: object, case: EditCase) -> None:
    assert isinstance(ev.created_at, int) and ev.created_at > 0  # type: ignore[attr-defined]
    assert ev.output_format == "png"  # type: ignore[attr-defined]
    assert ev.quality in ("low", "medium", "high", "auto")  # type: ignore[attr-defined]
    assert ev.background in ("transparent", "opaque", "auto")  # type: ignore[attr-defined]
    assert ev.size in SIZES or ev.size == f"{case.width}x{case.height}", ev.size  # type: ignore[attr-defined]


def test_stream_with_two_partial_images(client: OpenAI) -> None:
    # Partials come from the pyramid levels before the last: 512 px has enough for two
    # (a 256 px image has one, and gets one; OpenAI allows fewer partials than asked for).
    hole_case = transparent_hole_case(512, 512)
    stream = client.images.edit(
        image=("photo.png", hole_case.image_png, "image/png"),
        prompt="stream it",
        model="gpt-image-1.5",
        stream=True,
        partial_images=2,
    )
    events = list(stream)
    types = [e.type for e in events]
    assert types == ["image_edit.partial_image", "image_edit.partial_image", "image_edit.completed"], types
    partials, completed = events[:2], events[2]
    assert [p.partial_image_index for p in partials] == [0, 1]  # type: ignore[union-attr]
    for p in partials:
        check_event_common(p, hole_case)
        img = assert_png(decode_b64(p.b64_json))
        assert img.size[0] > 0 and img.size[1] > 0
    check_event_common(completed, hole_case)
    assert completed.usage is not None  # type: ignore[union-attr]
    out = decode_b64(completed.b64_json)
    assert_png(out)
    assert_known_pixels_unchanged(out, hole_case)


def test_stream_without_partials_sends_only_completed(client: OpenAI, hole_case: EditCase) -> None:
    stream = client.images.edit(
        image=("photo.png", hole_case.image_png, "image/png"), prompt="stream", stream=True, partial_images=0
    )
    events = list(stream)
    assert [e.type for e in events] == ["image_edit.completed"]
    assert_known_pixels_unchanged(decode_b64(events[0].b64_json), hole_case)


def test_stream_n2_sends_two_completed(client: OpenAI, hole_case: EditCase) -> None:
    stream = client.images.edit(
        image=("photo.png", hole_case.image_png, "image/png"), prompt="stream", stream=True, n=2, partial_images=1
    )
    events = list(stream)
    completed = [e for e in events if e.type == "image_edit.completed"]
    partial = [e for e in events if e.type == "image_edit.partial_image"]
    assert len(completed) == 2, [e.type for e in events]
    assert 1 <= len(partial) <= 2, [e.type for e in events]
    outs = [assert_known_pixels_unchanged(decode_b64(e.b64_json), hole_case) for e in completed]
    assert (outs[0][hole_case.edit] != outs[1][hole_case.edit]).any(), "n=2 stream gave identical fills"


def parse_sse(text: str) -> list[tuple[str | None, dict]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data_lines = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data_lines.append(line[5:].lstrip())
        data = "\n".join(data_lines)
        if data and data != "[DONE]":
            events.append((name, json.loads(data)))
    return events


def test_stream_wire_format_follows_the_field_not_accept(server: Server, hole_case: EditCase) -> None:
    """`accept: application/json` (what the Python SDK sends) still gets SSE when stream=true."""
    r = requests.post(
        server.url("/v1/images/edits"),
        headers={"accept": "application/json"},
        files={"image": ("photo.png", hole_case.image_png, "image/png")},
        data={"prompt": "wire", "stream": "true", "partial_images": "3"},
        timeout=120,
    )
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers.get("x-request-id")
    events = parse_sse(r.text)
    names = [n for n, _ in events]
    types = [d["type"] for _, d in events]
    assert names == types, f"event: lines {names} disagree with data types {types}"
    partials = [d for _, d in events if d["type"] == "image_edit.partial_image"]
    assert 1 <= len(partials) <= 3 and types[-1] == "image_edit.completed", types
    assert [p["partial_image_index"] for p in partials] == list(range(len(partials)))
    for _, d in events:
        for key in ("type", "b64_json", "created_at", "size", "quality", "background", "output_format"):
            assert key in d, f"{d['type']} lacks {key}"
    done = events[-1][1]
    for key in ("total_tokens", "input_tokens", "output_tokens", "input_tokens_details"):
        assert key in done["usage"], f"usage lacks {key}"
    assert decode(decode_b64(done["b64_json"])).size == (hole_case.width, hole_case.height)


def test_stream_false_is_plain_json(server: Server, hole_case: EditCase) -> None:
    r = requests.post(
        server.url("/v1/images/edits"),
        headers={"accept": "text/event-stream"},
        files={"image": ("photo.png", hole_case.image_png, "image/png")},
        data={"prompt": "wire", "stream": "false", "response_format": "b64_json"},
        timeout=120,
    )
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("application/json")
    assert_known_pixels_unchanged(decode_b64(r.json()["data"][0]["b64_json"]), hole_case)
