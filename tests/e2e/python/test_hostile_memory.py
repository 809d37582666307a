"""Oversized uploads and decompression bombs: refused fast, without the server's memory growing.

Memory is read from `/proc/<pid>/status` of the server process: VmRSS (now) and VmHWM (peak).
The module gets its own fresh server (module-scoped fixture), warmed with one tiny edit so
the baseline peak is close to the resting size and a spike cannot hide under it.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator

import numpy as np
import pytest
from openai import OpenAI

from support.http import Part, RawResponse, assert_client_error, multipart, raw_request, request_bytes
from support.images import png_bytes, photo_like, transparent_hole_case
from support.server import Server

MB = 1024 * 1024
# What a refused request may cost the server, peak and after.
GROWTH_LIMIT_KB = 20 * 1024
BOUNDARY = "hostile-7c1e"

# Known server bug, reported to the lead: only the memory bound is excused (status, shape and
# timing are still asserted), and the test passes outright once the server stops buffering.
BUFFERS_PART = (
    "server bug (2026-11-23): the 'image' part is buffered up to the 50 MB per-file limit "
    "before the 413, so peak RSS grows ~52 MB (limit here: 20 MB)"
)


@pytest.fixture(scope="module", autouse=True)
def warm(server: Server, client: OpenAI) -> None:
    case = transparent_hole_case(64, 64)
    client.images.edit(image=("w.png", case.image_png, "image/png"), prompt="warm", response_format="b64_json")
    time.sleep(0.5)


class Memory:
    def __init__(self, srv: Server) -> None:
        self.srv = srv
        # Reset the peak (VmHWM) to the current size, so an earlier test's spike cannot hide
        # this one's (Linux >= 4.0: writing 5 to clear_refs resets the peak RSS).
        with open(f"/proc/{srv.pid}/clear_refs", "w") as f:
            f.write("5")
        s = srv.proc_status()
        self.rss0, self.hwm0 = s["VmRSS"], s["VmHWM"]

    def check(self, what: str, known_bug: str | None = None) -> dict[str, int]:
        time.sleep(0.3)
        s = self.srv.proc_status()
        fig = {
            "rss_before_kb": self.rss0,
            "rss_after_kb": s["VmRSS"],
            "peak_growth_kb": s["VmHWM"] - self.hwm0,
            "rss_growth_kb": s["VmRSS"] - self.rss0,
        }
        print(f"\n[memory] {what}: {fig}")
        over = max(fig["peak_growth_kb"], fig["rss_growth_kb"]) >= GROWTH_LIMIT_KB
        if over and known_bug:
            pytest.xfail(f"{known_bug}; measured {fig}")
        assert fig["peak_growth_kb"] < GROWTH_LIMIT_KB, f"{what}: peak memory grew by {fig['peak_growth_kb']} kB"
        assert fig["rss_growth_kb"] < GROWTH_LIMIT_KB, f"{what}: resident memory grew by {fig['rss_growth_kb']} kB"
        return fig


def head_and_tail() -> tuple[bytes, bytes]:
    """Multipart framing around one image part whose bytes the caller streams in between."""
    before = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nbig\r\n"
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.png\"\r\n"
        f"Content-Type: image/png\r\n\r\n"
    ).encode()
    after = f"\r\n--{BOUNDARY}--\r\n".encode()
    return before, after


def big_payload(total: int) -> Iterator[bytes]:
    """A PNG signature followed by junk, generated lazily in 256 KiB pieces."""
    yield b"\x89PNG\r\n\x1a\n"
    left = total - 8
    piece = bytes(range(256)) * 1024
    while left > 0:
        n = min(left, len(piece))
        yield piece[:n]
        left -= n


def test_60mb_upload_is_refused_without_buffering(server: Server) -> None:
    mem = Memory(server)
    size = 60 * MB
    before, after = head_and_tail()
    head = request_bytes(
        "POST",
        "/v1/images/edits",
        headers={
            "content-type": f"multipart/form-data; boundary={BOUNDARY}",
            "content-length": str(len(before) + size + len(after)),
        },
        content_length=False,
    )
    t0 = time.monotonic()
    r = raw_request(server.port, iter([head + before, *big_payload(size), after]), timeout=60)
    elapsed = time.monotonic() - t0
    err = assert_client_error(r, 413)
    print(f"\n[413] content-length upload refused in {elapsed:.2f}s: {err}")
    mem.check("60 MB upload with content-length", known_bug=BUFFERS_PART)


def chunked(pieces: Iterator[bytes]) -> Iterator[bytes]:
    for p in pieces:
        if p:
            yield f"{len(p):x}\r\n".encode() + p + b"\r\n"
    yield b"0\r\n\r\n"


def test_60mb_chunked_upload_is_refused_without_buffering(server: Server) -> None:
    mem = Memory(server)
    before, after = head_and_tail()
    head = request_bytes(
        "POST",
        "/v1/images/edits",
        headers={
            "content-type": f"multipart/form-data; boundary={BOUNDARY}",
            "transfer-encoding": "chunked",
        },
        content_length=False,
    )

    def body() -> Iterator[bytes]:
        yield head
        yield from chunked(iter([before, *big_payload(60 * MB), after]))

    t0 = time.monotonic()
    r = raw_request(server.port, body(), timeout=60)
    elapsed = time.monotonic() - t0
    err = assert_client_error(r, 413)
    print(f"\n[413] chunked upload refused in {elapsed:.2f}s: {err}")
    mem.check("60 MB chunked upload", known_bug=BUFFERS_PART)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with(width: int, height: int, idat: bytes, color_type: int = 2, extra: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def zlib_zeros(total_mb: int) -> bytes:
    """A valid zlib stream inflating to `total_mb` MiB of zeros, built without allocating it."""
    block = bytes(MB)
    seg_co = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = seg_co.compress(block) + seg_co.flush(zlib.Z_FULL_FLUSH)  # self-contained, byte-aligned
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty last block
    adler = 1
    for _ in range(total_mb):
        adler = zlib.adler32(block, adler)
    return b"\x78\xda" + segment * total_mb + final + struct.pack(">I", adler)


def send_png(server: Server, data: bytes, timeout: float = 30) -> tuple[RawResponse, float]:
    body = multipart(
        [Part("prompt", b"bomb"), Part("image", data, "bomb.png", "image/png")],
        BOUNDARY,
    )
    req = request_bytes(
        "POST", "/v1/images/edits", headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"}, body=body
    )
    t0 = time.monotonic()
    r = raw_request(server.port, req, timeout=timeout)
    return r, time.monotonic() - t0


def test_png_claiming_100000_squared_is_400_fast(server: Server) -> None:
    mem = Memory(server)
    data = png_with(100_000, 100_000, zlib.compress(bytes(4096)))
    r, elapsed = send_png(server, data)
    err = assert_client_error(r, 400)
    assert (err["param"] or "").startswith("image"), err
    assert elapsed < 5, f"took {elapsed:.1f}s to refuse a header-only bomb"
    mem.check("PNG header claiming 100000x100000")


def test_zlib_bomb_is_400_fast(server: Server) -> None:
    """30000x30000 declared, 400 MiB of zeros inflating from ~400 KiB: refused from the header."""
    mem = Memory(server)
    idat = zlib_zeros(400)
    assert zlib.decompressobj().decompress(idat, 1024) == bytes(1024)  # the stream is real
    data = png_with(30_000, 30_000, idat)
    assert len(data) < 2 * MB
    r, elapsed = send_png(server, data)
    err = assert_client_error(r, 400)
    assert (err["param"] or "").startswith("image"), err
    assert elapsed < 5, f"took {elapsed:.1f}s to refuse a zlib bomb"
    mem.check("zlib bomb (30000x30000, 400 MiB of zeros)")


def test_small_image_with_oversized_idat_stays_bounded(server: Server) -> None:
    """64x64 declared but the IDAT inflates to 256 MiB: decode stops at what the header needs."""
    mem = Memory(server)
    data = png_with(64, 64, zlib_zeros(256))
    r, elapsed = send_png(server, data)
    # A lenient decoder takes the first 64 rows (a black image, nothing to edit or an edit of
    # nothing); a strict one calls the trailing data corrupt. Either way: no 5xx, bounded, fast.
    assert r.status in (200, 400), f"{r.status}: {r.body[:300]!r}"
    if r.status == 400:
        assert_client_error(r, 400)
    assert elapsed < 20, f"took {elapsed:.1f}s"
    mem.check("64x64 PNG whose IDAT inflates to 256 MiB")


def test_ztxt_bomb_stays_bounded(server: Server) -> None:
    """A valid small image carrying a zTXt chunk that inflates to 256 MiB."""
    mem = Memory(server)
    rgb = photo_like(64, 64)
    rgba = np.dstack([rgb, np.full((64, 64), 255, np.uint8)])
    rgba[20:40, 20:40, 3] = 0
    good = png_bytes(rgba)
    ztxt = chunk(b"zTXt", b"Comment\x00\x00" + zlib_zeros(256))
    end_of_ihdr = 8 + 25
    data = good[:end_of_ihdr] + ztxt + good[end_of_ihdr:]
    r, elapsed = send_png(server, data)
    assert r.status in (200, 400), f"{r.status}: {r.body[:300]!r}"
    if r.status == 400:
        assert_client_error(r, 400)
    assert elapsed < 20, f"took {elapsed:.1f}s"
    mem.check("zTXt bomb (256 MiB) in a 64x64 PNG")


def test_server_still_serves_after_the_abuse(server: Server, client: OpenAI) -> None:
    case = transparent_hole_case(96, 96)
    resp = client.images.edit(image=("ok.png", case.image_png, "image/png"), prompt="ok", response_format="b64_json")
    assert resp.data[0].b64_json
