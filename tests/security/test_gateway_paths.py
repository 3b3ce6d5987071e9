"""Issue 12 case 1: the gateway authorises exactly the path it forwards.

Dot segments (raw or percent-encoded) are resolved once, before keys are checked and
before routing; the upstream receives that same normal path; ambiguous spellings are a
400 in the error shape; internal routes are never reachable."""

from __future__ import annotations

import pytest

from tests.security.conftest import API_KEY, EchoEdge
from tests.security.rawhttp import raw_request

BYPASSES = [
    ("GET", "/classify/../api/v1/classifications"),
    ("GET", "/classify/%2e%2e/api/v1/classifications"),
    ("GET", "/classify/.%2e/api/v1/models/current"),
    ("GET", "/classify/%2E%2E/api/v1/classifications"),
    ("POST", "/classify/../api/v1/classifications"),
    ("GET", "/%61pi/v1/classifications"),
    ("GET", "/static/./../api/v1/labels"),
    ("GET", "//api/v1/classifications"),
]


@pytest.mark.parametrize(("method", "target"), BYPASSES)
async def test_dot_segment_and_escape_spellings_of_the_api_need_the_key(
    echo_edge: EchoEdge, method: str, target: str
) -> None:
    response = await raw_request(echo_edge.host, echo_edge.port, target, method=method)
    assert response.status == 401, response.body
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "target"), BYPASSES)
async def test_the_upstream_receives_the_path_that_was_authorised(
    echo_edge: EchoEdge, method: str, target: str
) -> None:
    response = await raw_request(
        echo_edge.host, echo_edge.port, target, method=method, headers={"X-API-Key": API_KEY}
    )
    assert response.status == 200
    received = response.json()["raw_path"]
    assert received.startswith("/api/v1/"), received
    assert ".." not in received and "%2" not in received.lower()


@pytest.mark.parametrize(
    "target",
    [
        "/api/v1/classifications%2F..%2F..%2Fready",
        "/classify%2f..%2fapi/v1/classifications",
        "/classify/..%5capi/v1/classifications",
        "/classify\\..\\api/v1/classifications",
        "/api/v1/classifications%00",
        "/api/v1/%0d%0aclassifications",
        "/../api/v1/classifications",
        "/classify/../../api/v1/classifications",
        "/api/v1/%zz",
    ],
)
async def test_ambiguous_paths_are_a_400_in_the_error_shape(
    echo_edge: EchoEdge, target: str
) -> None:
    response = await raw_request(
        echo_edge.host, echo_edge.port, target, headers={"X-API-Key": API_KEY}
    )
    assert response.status == 400, (target, response.body)
    error = response.json()["error"]
    assert error["code"] == "invalid_path"
    assert error["request_id"]


@pytest.mark.parametrize(
    "target", ["/classify/../ready", "/ready", "/%72eady", "/admin/model", "/web/../admin"]
)
async def test_internal_routes_are_not_reachable(echo_edge: EchoEdge, target: str) -> None:
    response = await raw_request(
        echo_edge.host, echo_edge.port, target, headers={"X-API-Key": API_KEY}
    )
    assert response.status == 404
    assert "raw_path" not in response.json()


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:8081/ready", "http://evil.example/api/v1/labels", "*"]
)
async def test_absolute_and_asterisk_targets_never_reach_an_upstream(
    echo_edge: EchoEdge, target: str
) -> None:
    response = await raw_request(
        echo_edge.host, echo_edge.port, target, headers={"X-API-Key": API_KEY}
    )
    assert 400 <= response.status < 500
    assert b"raw_path" not in response.body
