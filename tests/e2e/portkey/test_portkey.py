"""The OpenAI and Portkey SDKs route through retouch to a mock OpenAI upstream; the file bytes
arrive unchanged."""
import hashlib
import io
import os

import openai

HERE = os.path.dirname(__file__)


def image_bytes():
    # Every byte value, CRLFs and a fake boundary after a PNG signature: must survive exactly.
    from conftest import PNG_1X1

    return PNG_1X1 + bytes(range(256)) * 8 + b"\r\n--boundary--\r\n"


def sha(b):
    return hashlib.sha256(b).hexdigest()


def test_openai_sdk_with_portkey_headers(server, upstream):
    data = image_bytes()
    client = openai.OpenAI(
        base_url=server + "/v1",
        api_key="sk-upstream-key-123",
        default_headers={
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"http://127.0.0.1:{upstream.server_address[1]}/v1",
        },
    )
    raw = client.images.with_raw_response.edit(
        model="gpt-image-1", prompt="remove the lamp", image=("photo.png", io.BytesIO(data), "image/png")
    )
    result = raw.parse()
    assert result.data[0].b64_json
    assert raw.headers["x-portkey-provider"] == "openai"
    assert raw.headers["x-upstream-request-id"] == "req_py_mock"
    (req,) = upstream.requests
    assert req["path"] == "/v1/images/edits"
    assert req["headers"]["authorization"] == "Bearer sk-upstream-key-123"
    assert sha(req["parts"]["image"][0]) == sha(data)


def test_portkey_sdk(server, upstream):
    from portkey_ai import Portkey

    data = image_bytes()
    client = Portkey(
        base_url=server + "/v1",
        provider="openai",
        custom_host=f"http://127.0.0.1:{upstream.server_address[1]}/v1",
        Authorization="Bearer sk-upstream-key-456",
        api_key="unused-gateway-key",
    )
    result = client.images.edit(
        model="gpt-image-1", prompt="remove the lamp", image=("photo.png", io.BytesIO(data), "image/png")
    )
    assert result.data[0].b64_json
    (req,) = upstream.requests
    assert sha(req["parts"]["image"][0]) == sha(data)
    assert req["headers"]["authorization"] == "Bearer sk-upstream-key-456"
