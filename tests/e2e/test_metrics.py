"""Metrics of the whole stack (`kkot run`'s composition: four services, one process, one
bus) over real sockets: every service has its own /metrics, counters say N after N
requests by route template and status, the bus's consumers report their events, and
none of it is reachable through the public gateway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from services.runner import RunningStack
from tests.conftest import make_image_bytes
from tests.prometheus_text import label_values, value
from tests.security.rawhttp import raw_request

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


def _urls(stack: RunningStack) -> dict[str, str]:
    """Where each service's metrics are: the gateway's on its own port."""
    config = stack.config
    assert config.gateway_metrics_port is not None
    return {
        "gateway": config.url(config.gateway_metrics_port) + "/metrics",
        "web": config.url(config.web_port) + "/metrics",
        "was": config.url(config.was_port) + "/metrics",
        "model": config.url(config.model_port) + "/metrics",
    }


async def _scrape(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as response:
        assert response.status == 200, url
        assert response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


async def test_each_service_serves_its_own_metrics(
    stack: RunningStack, http: aiohttp.ClientSession
) -> None:
    texts = {name: await _scrape(http, url) for name, url in _urls(stack).items()}
    async with http.get(f"{stack.url}/api/v1/models/current") as response:
        version = (await response.json())["version"]
    model = texts["model"]
    assert value(model, "kkot_model_info", {"model_version": version}) == 1
    # Separate registries: the model families only where the model is, the bus only in
    # the services that consume from it.
    assert "kkot_model_batch_size" not in texts["gateway"] + texts["was"] + texts["web"]
    assert "kkot_bus_" in texts["was"] and "kkot_bus_" in texts["web"]
    assert "kkot_bus_" not in texts["gateway"] + model


async def test_after_n_requests_the_counters_say_n_by_route_and_status(
    stack: RunningStack, http: aiohttp.ClientSession
) -> None:
    urls = _urls(stack)
    n = 7
    before = {name: await _scrape(http, urls[name]) for name in ("gateway", "was")}
    for i in range(n):
        async with http.get(f"{stack.url}/api/v1/classifications/missing-{i}") as response:
            assert response.status == 404
        async with http.get(f"{stack.url}/api/v1/models/current") as response:
            assert response.status == 200
    after = {name: await _scrape(http, urls[name]) for name in ("gateway", "was")}

    def delta(service: str, name: str, labels: dict[str, str]) -> float:
        return value(after[service], name, labels) - value(before[service], name, labels)

    missing = {"route": "/api/v1/classifications/{id}", "method": "GET", "status": "404"}
    current = {"route": "/api/v1/models/current", "method": "GET", "status": "200"}
    for labels in (missing, current):
        assert delta("was", "kkot_http_requests_total", labels) == n
        assert delta("was", "kkot_http_request_duration_seconds_count", labels) == n
        assert delta("was", "kkot_http_request_duration_seconds_sum", labels) > 0
    for status in ("404", "200"):
        proxied = {"route": "proxy:was", "method": "GET", "status": status}
        assert delta("gateway", "kkot_http_requests_total", proxied) == n
    # Templates, never raw paths: no id became a label value.
    assert "missing-" not in after["was"] + after["gateway"]
    routes = label_values(after["was"], "kkot_http_requests_total", "route")
    assert all(route.startswith("/") or route == "unmatched" for route in routes)


async def test_bus_consumers_report_their_events(
    stack: RunningStack, http: aiohttp.ClientSession
) -> None:
    urls = _urls(stack)
    requested = {"consumer": "was-classifier", "event_type": "classification.requested"}
    live = {"consumer": "web-live-history", "outcome": "ok"}
    was_before = value(await _scrape(http, urls["was"]), "kkot_bus_events_total", requested)
    web_before = value(await _scrape(http, urls["web"]), "kkot_bus_events_total", live)
    form = aiohttp.FormData()
    form.add_field("file", make_image_bytes("JPEG"), filename="a.jpg", content_type="image/jpeg")
    async with http.post(
        f"{stack.url}/api/v1/classifications", data=form, headers={"Prefer": "respond-async"}
    ) as response:
        assert response.status == 202
    deadline = time.monotonic() + 30
    while True:
        was = await _scrape(http, urls["was"])
        web = await _scrape(http, urls["web"])
        done = value(was, "kkot_bus_events_total", {**requested, "outcome": "ok"})
        if done > 0 and value(web, "kkot_bus_events_total", live) > web_before:
            break
        assert time.monotonic() < deadline, "the consumers never reported the job's events"
        await asyncio.sleep(0.2)
    assert value(was, "kkot_bus_events_total", requested) > was_before
    assert value(was, "kkot_bus_delivery_lag_seconds_count", requested) >= 1
    assert value(was, "kkot_bus_dead_letters_total") == 0


@pytest.mark.parametrize(
    "target", ["/metrics", "/metrics/", "/%6Detrics", "//metrics", "/api/../metrics"]
)
async def test_metrics_are_not_reachable_through_the_public_gateway(
    stack: RunningStack, target: str
) -> None:
    answer = await raw_request(stack.config.host, stack.config.gateway_port, target)
    assert answer.status in (400, 404), target
    assert b"kkot_http_requests" not in answer.body
