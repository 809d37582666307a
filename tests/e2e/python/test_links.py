"""Hosted results: `response_format=url` gives a signed, expiring link that serves the image.

Tampered, expired or garbled links are refused; path tricks never reach a file outside the
store; links survive a restart on the same data directory.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from openai import OpenAI

from support.http import assert_openai_error, connect, read_response, request_bytes
from support.sdk import sdk_client
from support.images import EditCase, assert_known_pixels_unchanged, assert_png, decode
from support.server import Server, start_server


def link_pattern(srv: Server, ext: str = "png") -> re.Pattern[str]:
    return re.compile(
        rf"^http://127\.0\.0\.1:{srv.port}/images/(?P<id>[A-Za-z0-9_-]+)\.{ext}"
        rf"\?expires=(?P<expires>\d+)&signature=(?P<sig>[0-9a-f]+)$"
    )


def url_edit(client: OpenAI, case: EditCase, **kwargs: object) -> list[str]:
    resp = client.images.edit(
        image=("photo.png", case.image_png, "image/png"), prompt="host it", response_format="url", **kwargs
    )
    urls = [d.url for d in resp.data]
    assert all(urls), f"expected url in every data item: {resp.data!r}"
    assert all(d.b64_json is None for d in resp.data)
    return [u for u in urls if u]


@pytest.fixture(scope="module")
def link(server: Server, client: OpenAI, hole_case: EditCase) -> str:
    return url_edit(client, hole_case, model="dall-e-2")[0]


def raw_get(srv: Server, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET with the path sent byte for byte (no client-side `..` normalisation)."""
    with connect(srv.port) as sock:
        sock.sendall(request_bytes("GET", path))
        r = read_response(sock, timeout=15)
    return r.status, r.headers, r.body


def test_url_is_signed_and_expires_in_an_hour(server: Server, link: str) -> None:
    m = link_pattern(server).match(link)
    assert m, f"link has the wrong shape: {link}"
    expires = int(m.group("expires"))
    assert abs(expires - (time.time() + 3600)) < 120, f"expires={expires} is not ~60 minutes from now"


def test_fetch_link_serves_the_png(link: str, hole_case: EditCase) -> None:
    r = requests.get(link, timeout=15)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "image/png"
    assert_png(r.content)
    assert_known_pixels_unchanged(r.content, hole_case)


def test_url_with_size_and_n(server: Server, client: OpenAI, hole_case: EditCase) -> None:
    urls = url_edit(client, hole_case, size="512x512", n=2)
    assert len(urls) == 2 and urls[0] != urls[1]
    for u in urls:
        assert link_pattern(server).match(u), u
        r = requests.get(u, timeout=15)
        assert r.status_code == 200
        assert decode(r.content).size == (512, 512)


def test_url_with_jpeg_output(server: Server, client: OpenAI, hole_case: EditCase) -> None:
    (u,) = url_edit(client, hole_case, output_format="jpeg")
    assert re.search(r"/images/[A-Za-z0-9_-]+\.(jpeg|jpg)\?", u), u
    r = requests.get(u, timeout=15)
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert decode(r.content).format == "JPEG"


def with_query(link: str, **changes: str | None) -> str:
    parts = urlsplit(link)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for k, v in changes.items():
        if v is None:
            q.pop(k, None)
        else:
            q[k] = v
    query = "&".join(f"{k}={v}" for k, v in q.items())
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")


def flip_hex(s: str) -> str:
    return s[:-1] + ("0" if s[-1] != "0" else "1")


def test_tampered_signature_is_403(link: str) -> None:
    sig = parse_qs(urlsplit(link).query)["signature"][0]
    r = requests.get(with_query(link, signature=flip_hex(sig)), timeout=15)
    assert r.status_code == 403
    assert_openai_error(r.status_code, dict(r.headers), r.content)


def test_extended_expiry_is_403(link: str) -> None:
    """The signature covers the expiry: pushing it later must not work."""
    exp = int(parse_qs(urlsplit(link).query)["expires"][0])
    r = requests.get(with_query(link, expires=str(exp + 86400)), timeout=15)
    assert r.status_code == 403
    assert_openai_error(r.status_code, dict(r.headers), r.content)


def test_link_for_another_id_is_refused(link: str) -> None:
    parts = urlsplit(link)
    other = parts.path.replace("/images/", "/images/a", 1)
    r = requests.get(f"{parts.scheme}://{parts.netloc}{other}?{parts.query}", timeout=15)
    assert r.status_code in (403, 404)
    assert_openai_error(r.status_code, dict(r.headers), r.content)


@pytest.mark.parametrize(
    "change",
    [
        {"signature": None},
        {"expires": None},
        {"signature": None, "expires": None},
        {"signature": "zz-not-hex"},
        {"signature": ""},
        {"expires": "soon"},
        {"expires": "1"},
        {"expires": "-5"},
        {"expires": "99999999999999999999999999"},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_garbled_or_expired_query_is_refused(link: str, change: dict[str, str | None]) -> None:
    r = requests.get(with_query(link, **change), timeout=15)
    assert r.status_code in (403, 404), f"{r.status_code}: {r.text[:200]}"
    assert_openai_error(r.status_code, dict(r.headers), r.content)


TRAVERSALS = [
    "/images/../retouch.db",
    "/images/..%2fretouch.db",
    "/images/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/images/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/images/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/images/..%5c..%5c..%5cetc%5cpasswd",
    "/images/....//....//....//etc/passwd",
    "/images/%2fetc%2fpasswd",
    "/images//etc/passwd",
    "/images/../../../../../../etc/passwd",
    "/images/.%2e/.%2e/.%2e/.%2e/etc/passwd",
    "/images/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/images/x.png%00.png",
    "/images/.",
    "/images/..",
    "/images/",
]


def data_dir_secrets(srv: Server) -> list[bytes]:
    """Distinctive byte strings from every file the server keeps: none may be served raw."""
    out = []
    for p in Path(srv.data_dir).rglob("*"):
        if p.is_file() and not p.suffix.lower() in (".png", ".jpeg", ".jpg", ".webp"):
            data = p.read_bytes()
            if len(data) >= 16:
                out.append(data[:64])
    return out


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_never_leaves_the_store(server: Server, link: str, path: str) -> None:
    query = urlsplit(link).query  # a genuine signature, in case the server checks it last
    for p in (path, f"{path}?{query}"):
        status, headers, body = raw_get(server, p)
        assert status in (400, 403, 404), f"GET {p} -> {status}: {body[:200]!r}"
        assert b"root:" not in body, f"GET {p} served /etc/passwd"
        for secret in data_dir_secrets(server):
            assert secret not in body, f"GET {p} served a file from the data dir"
        assert headers.get("x-request-id"), f"GET {p}: no x-request-id"


def test_expired_link_is_refused(hole_case: EditCase) -> None:
    srv = start_server("--link-ttl", "1")
    try:
        (u,) = url_edit(sdk_client(srv), hole_case)
        m = link_pattern(srv).match(u)
        assert m, u
        assert abs(int(m.group("expires")) - time.time()) < 30
        time.sleep(2.5)
        r = requests.get(u, timeout=15)
        assert r.status_code in (403, 404), f"expired link answered {r.status_code}"
        assert_openai_error(r.status_code, dict(r.headers), r.content)
        assert srv.stop() == 0
    finally:
        srv.cleanup()


def test_links_survive_a_restart(hole_case: EditCase, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_server(data_dir=data_dir)
    try:
        (u,) = url_edit(sdk_client(first), hole_case)
        before = requests.get(u, timeout=15)
        assert before.status_code == 200
        assert first.stop() == 0
    finally:
        first.cleanup()
    second = start_server(data_dir=data_dir)
    try:
        parts = urlsplit(u)
        again = requests.get(f"{second.base}{parts.path}?{parts.query}", timeout=15)
        assert again.status_code == 200, f"link died across a restart: {again.status_code} {again.text[:200]}"
        assert again.content == before.content
        assert second.stop() == 0
    finally:
        second.cleanup()
