"""The official OpenAI SDK client pointed at a test server."""

from __future__ import annotations

from openai import OpenAI

from support.server import Server


def sdk_client(srv: Server, api_key: str = "sk-test", **kwargs: object) -> OpenAI:
    # No retries: a test must see the first answer, not the SDK's third try.
    opts: dict[str, object] = {"max_retries": 0, "timeout": 180.0}
    opts.update(kwargs)
    return OpenAI(base_url=f"{srv.base}/v1", api_key=api_key, **opts)  # type: ignore[arg-type]
