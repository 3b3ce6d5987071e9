"""The OpenAPI document is the public contract: only what the gateway routes, the API
keys as the gateway takes them, each operation's own statuses and headers, examples
that validate against the contracts; and `/api/docs` serves a docs UI for it from the
pinned package, nothing from a CDN."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from services.gateway.destinations import upstream_for
from services.gateway.settings import GatewaySettings
from services.was.openapi import build_openapi
from services.was.routes import ROUTES
from shared.contracts.classification import ClassificationRecord, FeedbackRequest
from shared.contracts.errors import ErrorResponse
from shared.open_paths import is_open

Client = TestClient[web.Request, web.Application]
DOC = build_openapi(ROUTES)


def _op(path: str, method: str) -> dict[str, object]:
    operation: dict[str, object] = DOC["paths"][path][method]
    return operation


def test_the_document_is_valid_3_1_and_lists_only_what_the_gateway_routes_to_was() -> None:
    validate(DOC)
    assert DOC["openapi"] == "3.1.0"
    assert "/health" not in DOC["paths"] and "/ready" not in DOC["paths"]
    settings = GatewaySettings()
    for path in DOC["paths"]:
        assert upstream_for(path.replace("{id}", "x"), settings)[0] == "was", path


def test_api_keys_are_described_as_the_gateway_takes_them() -> None:
    schemes = DOC["components"]["securitySchemes"]
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "apiKey", "in": "header"}
    assert schemes["apiKey"]["name"] == "X-API-Key"
    assert schemes["bearer"]["scheme"] == "bearer"
    assert {} in DOC["security"]  # keys only when configured
    for path, methods in DOC["paths"].items():
        for method, operation in methods.items():
            keyed = not is_open(path)
            assert ("401" in operation["responses"]) == keyed, (path, method)
            assert ("403" in operation["responses"]) == keyed, (path, method)
            assert ("security" not in operation) == keyed, (path, method)


def test_each_operation_lists_its_own_statuses_not_one_shared_list() -> None:
    def statuses(path: str, method: str) -> set[str]:
        return set(_op(path, method)["responses"])  # type: ignore[arg-type]

    feedback = statuses("/api/v1/classifications/{id}/feedback", "post")
    assert {"200", "404", "409", "422", "429"} <= feedback
    assert "409" not in statuses("/api/v1/classifications", "get")
    assert "404" not in statuses("/api/v1/classifications", "get")
    assert "413" not in statuses("/api/v1/classifications/{id}", "get")
    assert {"201", "202", "413", "415", "503"} <= statuses("/api/v1/classifications", "post")
    assert all(
        "429" in methods[m]["responses"] for methods in DOC["paths"].values() for m in methods
    )


def test_location_and_retry_after_headers_are_documented() -> None:
    responses = _op("/api/v1/classifications", "post")["responses"]
    assert isinstance(responses, dict)
    assert "Location" in responses["201"]["headers"] and "Location" in responses["202"]["headers"]
    assert "Retry-After" in responses["202"]["headers"]
    for status in ("429", "503"):
        assert "Retry-After" in responses[status]["headers"]
    assert "Retry-After" not in responses["400"]["headers"]
    assert DOC["components"]["headers"]["Retry-After"]["schema"]["type"] == "integer"


def test_examples_are_valid_contract_instances() -> None:
    create = _op("/api/v1/classifications", "post")["responses"]
    assert isinstance(create, dict)
    ClassificationRecord.model_validate(create["201"]["content"]["application/json"]["example"])
    ErrorResponse.model_validate(create["400"]["content"]["application/json"]["example"])
    body = _op("/api/v1/classifications/{id}/feedback", "post")["requestBody"]
    assert isinstance(body, dict)
    FeedbackRequest.model_validate(body["content"]["application/json"]["example"])


async def test_api_docs_serves_swagger_ui_from_the_package_without_a_cdn(was: Client) -> None:
    page = await was.get("/api/docs")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "/api/v1/openapi.json" in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "docs.js", "docs.css"):
        response = await was.get(f"/api/docs/{asset}")
        assert response.status == 200, asset
        assert len(await response.read()) > 100
    bundle = await (await was.get("/api/docs/swagger-ui-bundle.js")).text()
    assert 'PACKAGE_VERSION:"5.' in bundle  # Swagger UI 5 reads OpenAPI 3.1
    assert (await was.get("/api/docs/..%2Fapi_docs.py")).status == 404
    assert (await was.get("/api/docs/swagger-editor.js")).status == 404
