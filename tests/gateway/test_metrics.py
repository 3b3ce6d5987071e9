"""The gateway's own metrics: counted per request, served on a listener of their own
(never the public one), and written as EMF log lines when asked, all over real sockets
with a small real upstream behind the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from tests.emf_spec import assert_valid_emf, emf_records
from tests.prometheus_text import label_values, value
from tests.security.rawhttp import raw_request


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=f"page {request.match_info['n']}")


async def _upstream_metrics(request: web.Request) -> web.Response:
    return web.Response(text="kkot_http_requests_total 1\n")


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    """A stand-in web upstream that would answer /metrics if asked."""
    app = web.Application()
    app.router.add_get("/pages/{n}", _page)
    app.router.add_get("/metrics", _upstream_metrics)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def _gateway(upstream: str, **settings: Any) -> TestServer:
    gateway = create_app(
        GatewaySettings(
            web_url=upstream,
            was_url=upstream,
            rate_capacity=10_000,
            rate_refill_per_s=10_000,
            **settings,
        )
    )
    server = TestServer(gateway, host="127.0.0.1")
    await server.start_server()
    return server


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        return response.status, await response.text()


async def test_the_metrics_port_counts_public_requests_by_route_not_path(
    upstream: str, free_port: int
) -> None:
    server = await _gateway(upstream, metrics_port=free_port)
    base = str(server.make_url("")).rstrip("/")
    metrics_url = f"http://127.0.0.1:{free_port}/metrics"
    try:
        async with aiohttp.ClientSession() as http:
            for n in range(5):
                assert (await _get(http, f"{base}/pages/{n}"))[0] == 200
            for _ in range(3):
                assert (await _get(http, f"{base}/health"))[0] == 200
            status, text = await _get(http, metrics_url)
    finally:
        await server.close()
    assert status == 200
    proxied = {"route": "proxy:web", "method": "GET", "status": "200"}
    assert value(text, "kkot_http_requests_total", proxied) == 5
    assert value(text, "kkot_http_request_duration_seconds_count", proxied) == 5
    assert value(text, "kkot_http_request_duration_seconds_sum", proxied) > 0
    assert value(text, "kkot_http_requests_total", {"route": "/health"}) == 3
    # Routes are templates or upstream names: the five paths made no series of their own.
    assert label_values(text, "kkot_http_requests_total", "route") == {"proxy:web", "/health"}


@pytest.mark.parametrize(
    "target",
    ["/metrics", "/metrics/", "/%6detrics", "//metrics", "/./metrics", "/pages/../metrics"],
)
async def test_the_public_listener_never_answers_metrics(
    upstream: str, free_port: int, target: str
) -> None:
    server = await _gateway(upstream, metrics_port=free_port)
    try:
        assert server.port is not None
        answer = await raw_request("127.0.0.1", server.port, target)
    finally:
        await server.close()
    # Neither its own (on the other port) nor the upstream's (never forwarded).
    assert answer.status in (400, 404), target
    assert b"kkot_http_requests" not in answer.body


async def test_the_metrics_port_serves_nothing_else(upstream: str, free_port: int) -> None:
    server = await _gateway(upstream, metrics_port=free_port)
    try:
        async with aiohttp.ClientSession() as http:
            status, _ = await _get(http, f"http://127.0.0.1:{free_port}/pages/1")
    finally:
        await server.close()
    assert status == 404


async def test_without_a_metrics_port_the_gateway_serves_no_metrics(upstream: str) -> None:
    server = await _gateway(upstream)
    try:
        async with aiohttp.ClientSession() as http:
            status, text = await _get(http, str(server.make_url("/metrics")))
    finally:
        await server.close()
    assert status == 404 and "kkot_http_requests" not in text


async def test_emf_lines_carry_the_counts_to_cloudwatch(
    upstream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = await _gateway(
        upstream, metrics_emf=True, metrics_namespace="kkot/staging", metrics_emf_interval_s=0.2
    )
    try:
        async with aiohttp.ClientSession() as http:
            for n in range(4):
                assert (await _get(http, str(server.make_url(f"/pages/{n}"))))[0] == 200
            await asyncio.sleep(0.6)  # at least one flush interval
    finally:
        await server.close()  # the last flush at shutdown adds nothing new
    records = emf_records(capsys.readouterr().out)
    for record in records:
        assert_valid_emf(record)
        assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "kkot/staging"
    proxied = [r for r in records if r.get("Route") == "proxy:web"]
    assert sum(r["Requests"] for r in proxied) == 4
    assert sum(len(r["Latency"]) for r in proxied) == 4
    assert {r["Service"] for r in proxied} == {"gateway"}
