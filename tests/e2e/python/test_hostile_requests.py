"""Malformed requests over a raw socket: always a 4xx in OpenAI's shape, never a 5xx or a hang.

Also slow clients: a request whose headers or body trickle in is timed out by the server,
while everyone else keeps being served.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from support.http import (
    Incomplete,
    Part,
    RawResponse,
    assert_client_error,
    connect,
    edit_request,
    multipart,
    raw_request,
    read_response,
    request_bytes,
)
from support.images import transparent_hole_case
from support.server import Server, start_server

PNG = transparent_hole_case(48, 48).image_png
B = "b0undary-e2e"
EDITS = "/v1/images/edits"


def mp_headers(boundary: str = B) -> dict[str, str]:
    return {"content-type": f"multipart/form-data; boundary={boundary}"}


def good_parts() -> list[Part]:
    return [Part("prompt", b"fill"), Part("image", PNG, "a.png", "image/png")]


def cases() -> dict[str, tuple[bytes, str | None]]:
    """name -> (raw request, the `param` the error must name, or None if any)."""
    body = multipart(good_parts(), B)
    trunc = body[: len(body) // 2]
    return {
        "no-boundary": (
            request_bytes("POST", EDITS, headers={"content-type": "multipart/form-data"}, body=body),
            None,
        ),
        "wrong-boundary": (request_bytes("POST", EDITS, headers=mp_headers("other-boundary"), body=body), None),
        "truncated-body": (request_bytes("POST", EDITS, headers=mp_headers(), body=trunc), None),
        "no-closing-boundary": (
            request_bytes("POST", EDITS, headers=mp_headers(), body=body[: body.rfind(f"--{B}--".encode())]),
            None,
        ),
        "part-without-name": (
            edit_request([Part("prompt", b"fill"), Part(None, PNG, "a.png", "image/png")], B),
            None,
        ),
        "prompt-twice": (edit_request([Part("prompt", b"a"), Part("prompt", b"b"), *good_parts()[1:]], B), "prompt"),
        "n-twice": (edit_request([*good_parts(), Part("n", b"1"), Part("n", b"2")], B), "n"),
        "mask-twice": (
            edit_request([*good_parts(), Part("mask", PNG, "m.png", "image/png"), Part("mask", PNG, "m.png", "image/png")], B),
            "mask",
        ),
        "non-utf8-prompt": (edit_request([Part("prompt", b"caf\xe9 \xff\xfe"), *good_parts()[1:]], B), "prompt"),
        "non-utf8-size": (edit_request([*good_parts(), Part("size", b"\xff\xfex1")], B), "size"),
        "n-not-a-number": (edit_request([*good_parts(), Part("n", b"three")], B), "n"),
        "stream-not-bool": (edit_request([*good_parts(), Part("stream", b"perhaps")], B), "stream"),
        "missing-prompt": (edit_request(good_parts()[1:], B), "prompt"),
        "text-content-type": (request_bytes("POST", EDITS, headers={"content-type": "text/plain"}, body=b"hello"), None),
        "urlencoded": (
            request_bytes(
                "POST", EDITS, headers={"content-type": "application/x-www-form-urlencoded"}, body=b"prompt=x&image=y"
            ),
            None,
        ),
        "no-content-type": (request_bytes("POST", EDITS, body=body), None),
        "empty-multipart-body": (request_bytes("POST", EDITS, headers=mp_headers(), body=b""), None),
        "empty-json-body": (
            request_bytes("POST", EDITS, headers={"content-type": "application/json"}, body=b""),
            None,
        ),
        "json-invalid": (
            request_bytes("POST", EDITS, headers={"content-type": "application/json"}, body=b'{"prompt": '),
            None,
        ),
        "json-array": (request_bytes("POST", EDITS, headers={"content-type": "application/json"}, body=b"[1,2]"), None),
        "json-images-not-list": (
            request_bytes(
                "POST",
                EDITS,
                headers={"content-type": "application/json"},
                body=b'{"model":"gpt-image-1.5","prompt":"x","images":"nope"}',
            ),
            None,
        ),
        "json-prompt-number": (
            request_bytes(
                "POST",
                EDITS,
                headers={"content-type": "application/json"},
                body=b'{"model":"gpt-image-1.5","prompt":5,"images":[{"image_url":"data:image/png;base64,AAAA"}]}',
            ),
            None,
        ),
        "json-bad-data-url": (
            request_bytes(
                "POST",
                EDITS,
                headers={"content-type": "application/json"},
                body=b'{"model":"gpt-image-1.5","prompt":"x","images":[{"image_url":"data:image/png;base64,!!!"}]}',
            ),
            None,
        ),
        "huge-part-header": (
            request_bytes(
                "POST",
                EDITS,
                headers=mp_headers(),
                body=(
                    f"--{B}\r\nContent-Disposition: form-data; name=\"prompt\"\r\nX-Filler: ".encode()
                    + b"a" * 200_000
                    + f"\r\n\r\nx\r\n--{B}--\r\n".encode()
                ),
            ),
            None,
        ),
        "ten-thousand-parts": (edit_request([Part(f"f{i}", b"x") for i in range(10_000)] + good_parts(), B), None),
        "garbage-before-boundary-only": (
            request_bytes("POST", EDITS, headers=mp_headers(), body=b"\x00\x01garbage" * 100),
            None,
        ),
    }


CASES = cases()


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_request_is_4xx_openai_shape(server: Server, name: str) -> None:
    req, param = CASES[name]
    t0 = time.monotonic()
    try:
        r = raw_request(server.port, req, timeout=20)
    except (socket.timeout, TimeoutError):
        pytest.fail(f"{name}: no answer within 20s (hang)")
    except Incomplete as e:
        pytest.fail(f"{name}: connection closed without a response: {e}")
    err = assert_client_error(r)
    assert time.monotonic() - t0 < 20
    if param is not None:
        assert err["param"] == param, f"{name}: param {err['param']!r}, message {err['message']!r}"


def test_get_on_edits_is_405_openai_shape(server: Server) -> None:
    r = raw_request(server.port, request_bytes("GET", EDITS), timeout=10)
    assert_client_error(r, 405)


def test_unknown_route_is_404_openai_shape(server: Server) -> None:
    r = raw_request(server.port, request_bytes("GET", "/v1/nope"), timeout=10)
    assert_client_error(r, 404)


def test_declared_length_longer_than_body_then_eof(server: Server) -> None:
    """The client half-closes mid-form, short of its content-length: 4xx or a clean close, never a hang."""
    body = multipart(good_parts(), B)
    head = request_bytes("POST", EDITS, headers={**mp_headers(), "content-length": str(len(body))}, content_length=False)
    with connect(server.port, 20) as sock:
        sock.sendall(head + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        try:
            r = read_response(sock, timeout=20)
        except Incomplete:
            return  # closed without an answer: acceptable for a client that hung up
        except (socket.timeout, TimeoutError):
            pytest.fail("server hung on a body shorter than its content-length")
        assert_client_error(r)


class Trickle(threading.Thread):
    """Send `head` then one byte of `rest` per second until the server closes on us."""

    def __init__(self, port: int, head: bytes, rest: bytes) -> None:
        super().__init__(daemon=True)
        self.port, self.head, self.rest = port, head, rest
        self.closed_after: float | None = None
        self.response: RawResponse | None = None
        self.error: str | None = None

    def run(self) -> None:
        t0 = time.monotonic()
        try:
            with connect(self.port, 120) as sock:
                sock.sendall(self.head)
                for b in self.rest:
                    time.sleep(1.0)
                    try:
                        sock.sendall(bytes([b]))
                    except (BrokenPipeError, ConnectionResetError):
                        break
                    sock.setblocking(False)
                    try:
                        peek = sock.recv(1, socket.MSG_PEEK)
                    except BlockingIOError:
                        peek = None
                    except ConnectionResetError:
                        peek = b""
                    sock.setblocking(True)
                    if peek is not None:
                        break  # The server answered or closed.
                    if time.monotonic() - t0 > 60:
                        self.error = "still open after 60s"
                        return
                sock.settimeout(10)
                try:
                    self.response = read_response(sock, timeout=10)
                except (Incomplete, ConnectionResetError):
                    pass
        except OSError as e:
            self.error = repr(e)
        finally:
            self.closed_after = time.monotonic() - t0


# The server's defaults are 10 s for headers and 120 s for a whole body; a shorter body budget
# keeps this test quick while exercising the same timer.
BODY_TIMEOUT_S = 8


@pytest.fixture
def slow_server() -> Iterator[Server]:
    srv = start_server("--body-timeout", str(BODY_TIMEOUT_S))
    try:
        yield srv
        assert srv.stop() == 0
    finally:
        srv.cleanup()


def test_slow_clients_are_timed_out_and_do_not_starve_others(slow_server: Server) -> None:
    server = slow_server
    body = multipart(good_parts(), B)
    slow_body = Trickle(
        server.port,
        request_bytes("POST", EDITS, headers={**mp_headers(), "content-length": str(len(body))}, content_length=False),
        body,
    )
    full_head = request_bytes("POST", EDITS, headers={**mp_headers(), "content-length": str(len(body))}, content_length=False)
    slow_head = Trickle(server.port, full_head[:20], full_head[20:])
    slow_body.start()
    slow_head.start()

    # Meanwhile, normal traffic is served promptly.
    served = 0
    t0 = time.monotonic()
    while (slow_body.is_alive() or slow_head.is_alive()) and time.monotonic() - t0 < 65:
        t = time.monotonic()
        h = requests.get(server.url("/health"), timeout=5)
        assert h.status_code == 200
        r = requests.post(
            server.url(EDITS),
            files={"image": ("a.png", PNG, "image/png")},
            data={"prompt": "meanwhile", "response_format": "b64_json"},
            timeout=30,
        )
        assert r.status_code == 200, r.text[:300]
        assert time.monotonic() - t < 15, "a normal request was starved while slow clients were connected"
        served += 1
        time.sleep(1.0)
    slow_body.join(5)
    slow_head.join(5)
    for name, t in (("body", slow_body), ("headers", slow_head)):
        assert t.error is None, f"slow {name}: {t.error}"
        # Headers: 10 s default; body: the budget above. Allow slack for a loaded machine.
        assert t.closed_after is not None and t.closed_after < 30, f"slow {name} open for {t.closed_after}s"
        if t.response is not None:
            assert t.response.status in (400, 408, 413), f"slow {name} answered {t.response.status}"
            assert t.response.status < 500
        print(f"\n[slow-client] {name} closed after {t.closed_after:.1f}s; response {t.response and t.response.status}")
    assert served >= 2, "normal requests were not served while slow clients trickled"
