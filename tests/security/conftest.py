"""The gateway with API keys on, in front of an upstream that echoes the path it
received, both on real sockets: what the gateway authorised can be compared with what
the upstream saw."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.runner import RunningStack, run_stack
from tests.e2e.conftest import stack_config

API_KEY = "test-key-0123456789"


async def _echo(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"raw_path": request.raw_path, "method": request.method})


@dataclass(frozen=True)
class EchoEdge:
    """A running gateway (`host`, `port`) whose upstreams echo what they received."""

    host: str
    port: int
    settings: GatewaySettings


def echo_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    return app


@pytest.fixture
async def echo_edge() -> AsyncIterator[EchoEdge]:
    upstream = TestServer(echo_app(), host="127.0.0.1")
    await upstream.start_server()
    base = str(upstream.make_url("")).rstrip("/")
    settings = GatewaySettings.model_validate(
        {"was_url": base, "web_url": base, "api_keys": [API_KEY], "rate_capacity": 0}
    )
    gateway = TestServer(create_app(settings), host="127.0.0.1")
    await gateway.start_server()
    assert gateway.port is not None
    yield EchoEdge("127.0.0.1", gateway.port, settings)
    await gateway.close()
    await upstream.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningStack]:
    """The whole stack (`kkot run`'s own composition) with keys off, one per module."""
    config = stack_config(default_model_dir, tmp_path_factory.mktemp("was-data"))
    async with run_stack(config) as running:
        yield running
