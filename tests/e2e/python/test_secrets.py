"""Caller secrets (`Authorization`, `x-portkey-api-key`) never show up in a response, a log line
or a file under the data directory, whatever the request did.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import openai
import requests

from support.http import Part, edit_request, raw_request
from support.images import transparent_hole_case
from support.sdk import sdk_client
from support.server import start_server


def test_secrets_never_leak() -> None:
    tail = secrets.token_hex(12)
    bearer = f"sk-secret-XYZ{tail}"
    portkey = f"pk-secret-{secrets.token_hex(12)}"
    needles = [bearer, portkey, tail, portkey[-16:]]
    headers = {"x-portkey-api-key": portkey}

    # Debug logging on purpose: the bar is "never", not "not at the default level".
    srv = start_server(env={"RUST_LOG": "debug"})
    try:
        seen: list[bytes] = []
        client = sdk_client(srv, api_key=bearer, default_headers=headers)
        case = transparent_hole_case(64, 64)
        image = ("a.png", case.image_png, "image/png")

        raw = client.images.with_raw_response.edit(image=image, prompt="ok", response_format="b64_json")
        seen.append(raw.http_response.content + str(raw.headers).encode())
        raw = client.images.with_raw_response.edit(image=image, prompt="ok", response_format="url")
        seen.append(raw.http_response.content + str(raw.headers).encode())
        link = raw.parse().data[0].url
        assert link
        r = requests.get(link, headers={"authorization": f"Bearer {bearer}", **headers}, timeout=15)
        seen.append(r.content + str(r.headers).encode())

        failures = [
            lambda: client.images.edit(image=image, prompt="n", n=11),
            lambda: client.images.edit(image=[], prompt="none"),
            lambda: client.images.edit(image=("x.txt", b"not an image" * 10, "text/plain"), prompt="bad"),
            lambda: client.images.edit(image=image, prompt="p" * 32001),
            lambda: client.images.edit(image=image, prompt="s", stream=True, size="nope"),
        ]
        for call in failures:
            try:
                call()
                raise AssertionError("expected an error")
            except openai.APIStatusError as e:
                seen.append(e.response.content + str(e.response.headers).encode() + str(e).encode())

        stream = client.images.edit(image=image, prompt="stream", stream=True, partial_images=1)
        seen.append(b"".join(ev.model_dump_json().encode() for ev in stream))

        auth = {"authorization": f"Bearer {bearer}", "x-portkey-api-key": portkey}
        for req in (
            edit_request([Part("prompt", b"x")], extra_headers=auth),
            edit_request([Part("prompt", b"\xff")], extra_headers=auth),
            b"POST /v1/images/edits HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer "
            + bearer.encode()
            + b"\r\ncontent-type: multipart/form-data\r\ncontent-length: 3\r\n\r\nabc",
            b"GET /images/../x?signature=" + bearer.encode() + b" HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
            b"x-portkey-api-key: " + portkey.encode() + b"\r\n\r\n",
        ):
            resp = raw_request(srv.port, req, timeout=20)
            seen.append(resp.body + str(resp.headers).encode())
        r = requests.get(srv.url("/v1/nope"), headers=auth, timeout=10)
        seen.append(r.content + str(r.headers).encode())

        assert srv.stop() == 0
        for blob in seen:
            for n in needles:
                assert n.encode() not in blob, f"secret echoed in a response: {blob[:300]!r}"
        log = srv.stderr_text()
        assert log.strip(), "server wrote no log at debug level; the log check would prove nothing"
        for n in needles:
            assert n not in log, f"secret in the server log: {[ln for ln in log.splitlines() if n in ln][:3]}"
        files = [p for p in Path(srv.data_dir).rglob("*") if p.is_file()]
        assert files, "data dir is empty; nothing was stored"
        for p in files:
            data = p.read_bytes()
            for n in needles:
                assert n.encode() not in data, f"secret stored in {p}"
    finally:
        srv.cleanup()
