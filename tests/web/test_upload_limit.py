"""One upload limit: the services' defaults derive from it, the pages state the limit
they enforce, and an over-limit or empty form post is a page that says so."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.gateway.settings import GatewaySettings
from services.was.settings import WasSettings
from services.web.app import create_app
from services.web.settings import WebSettings
from shared.limits import ENVELOPE_BYTES, MAX_UPLOAD_BYTES, size_text, upload_limit_of_body

Client = TestClient[web.Request, web.Application]


def test_every_service_enforces_the_same_photo_limit() -> None:
    assert WebSettings().max_upload_bytes == MAX_UPLOAD_BYTES
    assert WasSettings().max_upload_bytes == MAX_UPLOAD_BYTES
    assert GatewaySettings().max_body_bytes == MAX_UPLOAD_BYTES + ENVELOPE_BYTES
    assert upload_limit_of_body(GatewaySettings().max_body_bytes) == MAX_UPLOAD_BYTES


def test_sizes_read_as_people_write_them() -> None:
    assert size_text(10 * 1024 * 1024) == "10 MB"
    assert size_text(5 * 1024 * 1024 // 2) == "2.5 MB"
    assert size_text(512 * 1024) == "512 KB"


@pytest.fixture
async def client(free_port: int) -> AsyncIterator[Client]:
    # 2 MiB photos at most; WAS is down (nothing listens on free_port).
    settings = WebSettings(was_url=f"http://127.0.0.1:{free_port}", max_upload_bytes=2 << 20)
    test_client: Client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def test_the_classify_page_states_the_configured_limit(client: Client) -> None:
    page = await (await client.get("/", headers={"Accept-Language": "en"})).text()
    assert "up to 2 MB" in page
    assert "10 MB" not in page


async def _post(client: Client, data: bytes, filename: str) -> tuple[int, str]:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename=filename, content_type="image/jpeg")
    response = await client.post("/", data=form, headers={"Accept-Language": "en"})
    return response.status, await response.text()


async def test_an_over_limit_form_post_is_a_page_naming_the_limit(client: Client) -> None:
    status, page = await _post(client, b"\xff" * (3 << 20), "big.jpg")
    assert status == 413
    assert "this site accepts photos up to 2 MB" in page
    assert '{"error"' not in page


async def test_an_empty_file_is_a_page_saying_it_is_empty(client: Client) -> None:
    status, page = await _post(client, b"", "empty.jpg")
    assert status == 400
    assert "That file is empty" in page


async def test_a_too_large_feedback_body_is_a_page_not_json(client: Client) -> None:
    response = await client.post(
        "/results/abc/feedback",
        data=io.BytesIO(b"label=" + b"x" * (3 << 20)),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "en"},
    )
    assert response.status == 413
    assert response.content_type == "text/html"
