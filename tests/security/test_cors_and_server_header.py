"""Issue 12 case 10: CORS from an allow-list (none by default), preflights answered by
the gateway; no software names or versions in any header (gateway, web, WAS)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.runner import RunningStack
from tests.security.conftest import API_KEY, echo_app

ALLOWED = "https://app.example"

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def cors_edge() -> AsyncIterator[str]:
    upstream = TestServer(echo_app(), host="127.0.0.1")
    await upstream.start_server()
    base = str(upstream.make_url("")).rstrip("/")
    settings = GatewaySettings.model_validate(
        {"was_url": base, "web_url": base, "api_keys": [API_KEY], "cors_allow_origins": [ALLOWED]}
    )
    gateway = TestServer(create_app(settings), host="127.0.0.1")
    await gateway.start_server()
    yield str(gateway.make_url("")).rstrip("/")
    await gateway.close()
    await upstream.close()


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key, content-type",
    }


async def test_a_listed_origin_gets_its_preflight_answered_without_a_key(cors_edge: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.options(
            cors_edge + "/api/v1/classifications", headers=_preflight(ALLOWED)
        ) as response,
    ):
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert "X-API-Key" in response.headers["Access-Control-Allow-Headers"]
        assert "Access-Control-Allow-Credentials" not in response.headers


async def test_other_origins_are_refused_in_the_error_shape(cors_edge: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.options(
            cors_edge + "/api/v1/classifications", headers=_preflight("https://evil.example")
        ) as response,
    ):
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "cors_refused"
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_answers_to_a_listed_origin_say_so_and_others_do_not(cors_edge: str) -> None:
    async with aiohttp.ClientSession() as session:
        for origin, expected in ((ALLOWED, ALLOWED), ("https://evil.example", None)):
            async with session.get(
                cors_edge + "/api/v1/labels", headers={"Origin": origin, "X-API-Key": API_KEY}
            ) as response:
                assert response.status == 200
                assert response.headers.get("Access-Control-Allow-Origin") == expected


async def test_by_default_no_origin_is_allowed(stack: RunningStack) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.options(
            stack.url + "/api/v1/classifications", headers=_preflight("http://localhost:3000")
        ) as response,
    ):
        assert response.status == 403


@pytest.mark.parametrize(
    "path", ["/health", "/", "/api/v1/labels", "/no-such-page", "/api/v1/nope", "/static/app.css"]
)
async def test_no_server_software_in_any_header(stack: RunningStack, path: str) -> None:
    urls = [stack.url + path, stack.config.url(stack.config.web_port) + path]
    urls.append(stack.config.url(stack.config.was_port) + path)
    async with aiohttp.ClientSession() as session:
        for url in urls:
            async with session.get(url) as response:
                assert "Server" not in response.headers, url
                for name, value in response.headers.items():
                    assert "aiohttp" not in value.lower() and "python" not in value.lower(), name
