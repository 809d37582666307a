"""Fixtures shared by the end-to-end tests: a real server per module, SDK clients, images."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai import OpenAI

from support.images import EditCase, masked_case, transparent_hole_case
from support.sdk import sdk_client
from support.server import Server, start_server


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One `retouch serve --port 0` for the module; stopped with SIGTERM, which must exit 0."""
    srv = start_server()
    try:
        yield srv
        code = srv.stop()
        assert code == 0, f"server exited {code} after SIGTERM; stderr tail:\n{srv.stderr_tail()}"
    finally:
        srv.cleanup()


@pytest.fixture(scope="module")
def client(server: Server) -> OpenAI:
    return sdk_client(server)


@pytest.fixture(scope="session")
def hole_case() -> EditCase:
    return transparent_hole_case(256, 256)


@pytest.fixture(scope="session")
def mask_case() -> EditCase:
    return masked_case(256, 192)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Attach the server's stderr tail to failing tests: the server's side of the story."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        srv = funcargs.get("server")
        if isinstance(srv, Server):
            report.sections.append(("retouch stderr (tail)", srv.stderr_tail(60)))
    return report
