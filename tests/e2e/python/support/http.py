"""Raw HTTP over a socket, multipart encoding by hand, and the OpenAI error-shape check.

Hostile-input tests need bytes the usual clients refuse to send (no boundary, truncated
bodies, `../` kept in the path, bodies that trickle in), so they speak HTTP/1.1 here.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

ERROR_KEYS = {"message", "type", "param", "code"}


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> object:
        return json.loads(self.body)


class Incomplete(Exception):
    """The connection closed before a full response arrived."""


def _read_until(sock: socket.socket, buf: bytearray, marker: bytes, deadline: float) -> int:
    while True:
        idx = buf.find(marker)
        if idx >= 0:
            return idx
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise Incomplete(f"closed before {marker!r}; got {bytes(buf[:200])!r}")
        buf += chunk


def _read_exact(sock: socket.socket, buf: bytearray, n: int, deadline: float) -> None:
    while len(buf) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise Incomplete(f"closed after {len(buf)} of {n} body bytes")
        buf += chunk


def read_response(sock: socket.socket, timeout: float = 30.0, buf: bytearray | None = None) -> RawResponse:
    """Read one HTTP/1.1 response (content-length, chunked, or until close)."""
    deadline = time.monotonic() + timeout
    buf = buf if buf is not None else bytearray()
    end = _read_until(sock, buf, b"\r\n\r\n", deadline)
    head = bytes(buf[:end]).decode("latin-1")
    del buf[: end + 4]
    status_line, *header_lines = head.split("\r\n")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        _read_exact(sock, buf, n, deadline)
        body = bytes(buf[:n])
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            idx = _read_until(sock, buf, b"\r\n", deadline)
            size = int(bytes(buf[:idx]).split(b";")[0], 16)
            del buf[: idx + 2]
            if size == 0:
                break
            _read_exact(sock, buf, size + 2, deadline)
            out += buf[:size]
            del buf[: size + 2]
        body = bytes(out)
    else:
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        body = bytes(buf)
    return RawResponse(status, headers, body)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def raw_request(port: int, data: bytes | Iterable[bytes], timeout: float = 30.0) -> RawResponse:
    """Send `data` (bytes, or chunks of it) as-is and read the response.

    Stops sending as soon as the server answers or closes mid-upload, as a well-behaved
    client does when a server refuses a body early (413 before the upload ends).
    """
    chunks: Iterable[bytes] = (data[i : i + 256 * 1024] for i in range(0, len(data), 256 * 1024)) if isinstance(
        data, (bytes, bytearray)
    ) else data
    with connect(port, timeout) as sock:
        send_until_answered(sock, chunks)
        return read_response(sock, timeout)


def send_until_answered(sock: socket.socket, chunks: Iterable[bytes]) -> int:
    """Send chunks until done or until the server has something to say; returns bytes sent."""
    sent = 0
    for chunk in chunks:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break  # The server answered (or closed) before taking the whole body.
        try:
            sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(chunk)
    return sent


def request_bytes(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    content_length: bool = True,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1", "connection: close"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if content_length and not any(k.lower() in ("content-length", "transfer-encoding") for k in (headers or {})):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class Part:
    name: str | None
    value: bytes
    filename: str | None = None
    content_type: str | None = None


def multipart(parts: list[Part], boundary: str = "e2e-boundary-5f3a") -> bytes:
    out = bytearray()
    for p in parts:
        out += f"--{boundary}\r\n".encode()
        disp = "Content-Disposition: form-data"
        if p.name is not None:
            disp += f'; name="{p.name}"'
        if p.filename is not None:
            disp += f'; filename="{p.filename}"'
        out += disp.encode() + b"\r\n"
        if p.content_type:
            out += f"Content-Type: {p.content_type}\r\n".encode()
        out += b"\r\n" + p.value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def edit_request(parts: list[Part], boundary: str = "e2e-boundary-5f3a", extra_headers: dict[str, str] | None = None) -> bytes:
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    headers.update(extra_headers or {})
    return request_bytes("POST", "/v1/images/edits", headers=headers, body=multipart(parts, boundary))


def assert_openai_error(status: int, headers: dict[str, str], body: bytes, expected_status: int | None = None) -> dict:
    """`{"error": {message, type, param, code}}` with JSON content type and a request id."""
    if expected_status is not None:
        assert status == expected_status, f"expected {expected_status}, got {status}: {body[:400]!r}"
    assert 400 <= status < 600, f"not an error status: {status}"
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert ctype.startswith("application/json"), f"error content-type is {ctype!r}: {body[:300]!r}"
    doc = json.loads(body)
    assert isinstance(doc, dict) and set(doc) >= {"error"}, f"not an OpenAI error body: {doc!r}"
    err = doc["error"]
    assert isinstance(err, dict) and ERROR_KEYS <= set(err), f"error lacks {ERROR_KEYS - set(err)}: {err!r}"
    assert isinstance(err["message"], str) and err["message"], f"empty error message: {err!r}"
    assert isinstance(err["type"], str) and err["type"], f"empty error type: {err!r}"
    assert err["param"] is None or isinstance(err["param"], str)
    assert err["code"] is None or isinstance(err["code"], str)
    rid = {k.lower(): v for k, v in headers.items()}.get("x-request-id")
    assert rid, "error response has no x-request-id"
    return err


def assert_client_error(resp: RawResponse, expected_status: int | None = None) -> dict:
    """A 4xx in OpenAI's shape (never a 5xx)."""
    assert resp.status < 500, f"server error {resp.status} for a client mistake: {resp.body[:400]!r}"
    assert 400 <= resp.status < 500, f"expected a 4xx, got {resp.status}: {resp.body[:400]!r}"
    return assert_openai_error(resp.status, resp.headers, resp.body, expected_status)
