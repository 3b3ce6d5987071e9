"""Browsers get pages, programs get JSON: the gateway's own refusals and an upstream's
JSON errors become an HTML page when the request's Accept names text/html."""

from __future__ import annotations

import html
import io
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.gateway.app import create_app
from services.gateway.error_pages import KNOWN_CODES
from services.gateway.settings import GatewaySettings
from services.web.i18n import messages
from shared.contracts.errors import ErrorBody, ErrorResponse
from shared.limits import ENVELOPE_BYTES, size_text

Factory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def _missing(request: web.Request) -> web.Response:
    body = ErrorResponse(error=ErrorBody(code="not_found", message="no", request_id="r"))
    return web.Response(status=404, text=body.model_dump_json(), content_type="application/json")


async def _refused_format(request: web.Request) -> web.Response:
    code = "unsupported_image_format"
    body = ErrorResponse(error=ErrorBody(code=code, message="no", request_id="r"))
    return web.Response(status=415, text=body.model_dump_json(), content_type="application/json")


@pytest.fixture
async def upstream() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_post("/api/v1/classifications", _refused_format)
    app.router.add_route("*", "/{tail:.*}", _missing)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def gateway(
    aiohttp_client: Factory, upstream: TestServer
) -> TestClient[web.Request, web.Application]:
    base = str(upstream.make_url("")).rstrip("/")
    settings = GatewaySettings(
        was_url=base, web_url=base, max_body_bytes=1024 * 1024 + ENVELOPE_BYTES
    )
    return await aiohttp_client(create_app(settings))


async def test_too_large_form_post_is_a_page_that_states_the_limit(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    headers = {
        "Accept": BROWSER,
        "Accept-Language": "ko-KR,ko;q=0.9",
        "Content-Length": str(27 * 1024 * 1024),
    }
    response = await gateway.post("/", data=b"x" * 10, headers=headers)
    assert response.status == 413
    assert response.content_type == "text/html"
    page = await response.text()
    assert '<html lang="ko">' in page and "사진이 너무 큽니다" in page
    # The size the page names is the one the gateway enforces, less the envelope.
    assert size_text(1024 * 1024) == "1 MB" and "1 MB" in page
    assert response.headers["X-Request-ID"] in page
    assert '{"error"' not in page


async def test_programs_keep_the_json_error_shape(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    headers = {"Accept": "application/json"}
    body = io.BytesIO(b"x" * (2 * 1024 * 1024))
    response = await gateway.post("/api/v1/classifications", data=body, headers=headers)
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"
    response = await gateway.get("/api/v1/classifications/nope")
    assert response.status == 404 and response.content_type == "application/json"


async def test_an_upstream_json_error_is_a_page_for_a_browser(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    response = await gateway.get(
        "/api/v1/classifications/nope", headers={"Accept": BROWSER, "Accept-Language": "en"}
    )
    assert response.status == 404
    assert response.content_type == "text/html"
    page = await response.text()
    assert "We could not find that page or classification." in page
    assert 'href="/"' in page


def test_every_error_the_gateway_names_has_words_in_both_languages() -> None:
    for language in ("en", "ko"):
        known = messages(language).keys()
        for code in KNOWN_CODES:
            assert f"error.{code}" in known, (language, code)


async def test_a_refused_image_format_reads_as_such_on_the_page(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    headers = {"Accept": BROWSER, "Accept-Language": "en"}
    response = await gateway.post("/api/v1/classifications", data=b"x", headers=headers)
    assert response.status == 415
    page = await response.text()
    t = messages("en")
    assert html.escape(t("error.unsupported_media_type")) in page
    assert html.escape(t("error.generic")) not in page
