"""Issue 12 checks, property-based: generated paths and query parameters against
running servers.

- Paths (gateway with keys on, in front of two upstreams that echo what they received
  and who they are): never a 5xx; whenever an upstream is reached, it received the
  gateway's normal form of the path, it is the upstream that path routes to, the path
  is not internal, and without a key it is one of the open paths. So no upstream is
  ever reached under a rule other than the one the gateway applied.
- Query parameters (the whole stack, keys off): never a 5xx on the list API, history,
  result pages and the language switch.

Examples and deadlines are bounded so the file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.gateway.app import create_app
from services.gateway.destinations import is_internal, upstream_for
from services.gateway.paths import normalise_target
from services.gateway.settings import GatewaySettings
from services.runner import RunningStack, run_stack
from shared.errors import BadRequest
from shared.open_paths import is_open
from tests.e2e.conftest import stack_config
from tests.security.threaded import blocking_request, in_thread

KEY = "prop-key-0123456789"
_SEGMENTS = [
    "api", "v1", "classifications", "classify", "image", "models", "current", "labels",
    "ready", "admin", "model", "health", "history", "events", "static", "app.css", "login",
    "lang", "en", "results", "..", ".", "%2e", "%2E%2e", ".%2e", "%2e.", "%2f", "%2F",
    "%5c", "\\", "%00", "%0a", "%41", "%61pi", "%252e%252e", "", "~", "%7e", "a b",
    "%", "%zz", "é", ";", "%3b", "?x=1", "#f",
]  # fmt: skip
_PATHS = st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=7).map(
    lambda parts: "/" + "/".join(parts)
)
_BOUNDED = settings(
    max_examples=150,
    deadline=5000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _echo(name: str) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"upstream": name, "raw_path": request.raw_path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@contextlib.asynccontextmanager
async def _echo_edge() -> AsyncIterator[tuple[int, GatewaySettings]]:
    was = TestServer(_echo("was"), host="127.0.0.1")
    web_ = TestServer(_echo("web"), host="127.0.0.1")
    await was.start_server()
    await web_.start_server()
    gateway_settings = GatewaySettings.model_validate(
        {
            "was_url": str(was.make_url("")).rstrip("/"),
            "web_url": str(web_.make_url("")).rstrip("/"),
            "api_keys": [KEY],
            "rate_capacity": 0,
        }
    )
    gateway = TestServer(create_app(gateway_settings), host="127.0.0.1")
    await gateway.start_server()
    assert gateway.port is not None
    try:
        yield gateway.port, gateway_settings
    finally:
        await gateway.close()
        await web_.close()
        await was.close()


@pytest.fixture(scope="module")
def echo_edge() -> Iterator[tuple[int, GatewaySettings]]:
    with in_thread(_echo_edge) as edge:
        yield edge


def _expected(target: str) -> str | None:
    try:
        return normalise_target(target).target
    except BadRequest:
        return None


@_BOUNDED
@given(path=_PATHS, with_key=st.booleans(), method=st.sampled_from(["GET", "POST", "DELETE"]))
def test_generated_paths_reach_upstreams_only_under_the_gateways_rule(
    echo_edge: tuple[int, GatewaySettings], path: str, with_key: bool, method: str
) -> None:
    port, gateway_settings = echo_edge
    target = path.replace(" ", "%20").replace("é", "%C3%A9").replace("#", "%23")
    headers = {"X-API-Key": KEY} if with_key else {}
    status, body = blocking_request(port, target, method=method, headers=headers)
    assert status < 500, (target, status, body[:200])
    expected = _expected(target)
    reached = b'"upstream"' in body
    if expected is None:
        assert status == 400 and not reached, target
        return
    if not reached:
        return
    echoed = json.loads(body)
    received = echoed["raw_path"]
    # The upstream saw exactly the path the gateway decided on ...
    assert received == expected, (target, received)
    received_path = received.partition("?")[0]
    # ... routed by the same rule, never internal, and open unless a key came along.
    assert echoed["upstream"] == upstream_for(received_path, gateway_settings)[0]
    assert not is_internal(received_path)
    assert with_key or is_open(received_path), (target, received)


@contextlib.asynccontextmanager
async def _stack(model_dir: Path, data_dir: Path) -> AsyncIterator[RunningStack]:
    async with run_stack(stack_config(model_dir, data_dir, gateway={"rate_capacity": 0})) as s:
        yield s


@pytest.fixture(scope="module")
def threaded_stack(
    default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    data_dir = tmp_path_factory.mktemp("was-data")
    with in_thread(lambda: _stack(default_model_dir, data_dir)) as running:
        yield running


_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["²", "٣", "1e3", " 5", "5 ", "0x10", "", "%", "%C2%B2", "true", "[]"]),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
)
_NAMES = st.sampled_from(["limit", "cursor", "has_feedback", "lang", "next", "thanks", "x"])
_PARAMS = st.lists(st.tuples(_NAMES, _VALUES), max_size=4)


@settings(
    max_examples=100,
    deadline=5000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=_PARAMS,
    path=st.sampled_from(
        [
            "/api/v1/classifications",
            "/history",
            "/lang/en",
            "/api/v1/labels",
            "/results/abc",
            "/review",
        ]
    ),
)
def test_generated_query_parameters_never_cause_a_5xx(
    threaded_stack: RunningStack, params: list[tuple[str, str]], path: str
) -> None:
    query = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in params)
    target = f"{path}?{query}" if query else path
    status, body = blocking_request(threaded_stack.config.gateway_port, target)
    assert status < 500, (target, status, body[:300])
