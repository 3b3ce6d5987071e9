"""The web app on a real socket: languages, security headers, static caching, friendly
errors when WAS is unreachable, and the SSE stream's framing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.web.app import create_app
from services.web.keys import BROADCASTER
from services.web.settings import WebSettings
from shared.contracts.classification import ClassificationRecord
from shared.events import MemoryEventBus

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(free_port: int) -> AsyncIterator[Client]:
    # Nothing listens on free_port: WAS is down for these tests.
    settings = WebSettings(was_url=f"http://127.0.0.1:{free_port}", sse_heartbeat_s=0.2)
    test_client: Client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def test_classify_page_in_korean_and_english(client: Client) -> None:
    ko = await client.get("/", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"})
    text = await ko.text()
    assert ko.status == 200
    assert '<html lang="ko">' in text
    assert "이 꽃은 무엇일까요?" in text
    assert ko.headers["Content-Language"] == "ko"
    en = await client.get("/", headers={"Accept-Language": "en-US"})
    text = await en.text()
    assert '<html lang="en">' in text
    assert "Which flower is this?" in text
    # The no-JS form: a multipart post to a web route, camera capture on phones.
    assert 'enctype="multipart/form-data"' in text
    assert 'capture="environment"' in text
    assert 'name="viewport"' in text


async def test_query_and_cookie_override_accept_language(client: Client) -> None:
    resp = await client.get("/?lang=ko", headers={"Accept-Language": "en"})
    assert '<html lang="ko">' in await resp.text()
    switch = await client.get("/lang/ko?next=/history", allow_redirects=False)
    assert switch.status == 303
    assert switch.headers["Location"] == "/history"
    assert "kkot_lang=ko" in switch.headers["Set-Cookie"]
    again = await client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="ko">' in await again.text()


async def test_language_switch_refuses_open_redirects(client: Client) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        resp = await client.get("/lang/en", params={"next": target}, allow_redirects=False)
        assert resp.headers["Location"] == "/"
    assert (await client.get("/lang/fr", allow_redirects=False)).status == 404


async def test_security_headers_on_pages(client: Client) -> None:
    resp = await client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    text = await resp.text()
    # No inline script or style anywhere: everything comes from /static.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text)
    assert "<style" not in text and " style=" not in text
    assert "http://" not in text and "https://" not in text


async def test_static_files_are_versioned_and_cached(client: Client) -> None:
    page = await (await client.get("/")).text()
    match = re.search(r'src="(/static/app\.js\?v=[0-9a-f]{10})"', page)
    assert match, "app.js is referenced with a content version"
    resp = await client.get(match.group(1))
    assert resp.status == 200
    assert "max-age=" in resp.headers["Cache-Control"]
    assert resp.headers["Content-Type"].startswith(("application/javascript", "text/javascript"))
    css = await client.get("/static/app.css")
    assert css.headers["X-Content-Type-Options"] == "nosniff"


async def test_was_down_shows_a_friendly_page_not_json(client: Client) -> None:
    for path in ("/history", "/model", "/results/abc"):
        resp = await client.get(path, headers={"Accept-Language": "ko"})
        assert resp.status == 502
        assert resp.content_type == "text/html"
        text = await resp.text()
        assert "API 서버에 연결할 수 없습니다" in text
        assert '{"error"' not in text


async def test_status_page_reports_was_down(client: Client) -> None:
    resp = await client.get("/status", headers={"Accept-Language": "en"})
    assert resp.status == 200
    text = await resp.text()
    assert "Unavailable" in text
    assert 'class="check down"' in text


async def test_form_post_without_file_explains(client: Client) -> None:
    resp = await client.post("/", data={"other": "x"}, headers={"Accept-Language": "en"})
    assert resp.status == 400
    assert "Please choose a photo first." in await resp.text()


async def test_sse_stream_heartbeats_and_delivers(client: Client) -> None:
    resp = await client.get("/events")
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert resp.headers["Cache-Control"].startswith("no-cache")
    first = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
    assert first.startswith(b"retry: ")
    heartbeat = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
    assert heartbeat == b": heartbeat\n\n"
    record = ClassificationRecord.model_validate(
        {
            "id": "r1",
            "status": "completed",
            "created_at": "2026-01-01T00:00:00Z",
            "content_type": "image/jpeg",
            "image_url": "/api/v1/classifications/r1/image",
            "label": "astilbe",
            "display_name": "Astilbe",
            "confidence": 0.9,
        }
    )
    client.app[BROADCASTER].publish(record)
    event = b""
    while not event.startswith(b"id: r1"):
        event = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
    assert b"event: classification" in event
    assert b"Astilbe" in event
    resp.close()


async def test_live_history_from_the_bus(free_port: int) -> None:
    bus = MemoryEventBus()
    await bus.start()
    settings = WebSettings(was_url=f"http://127.0.0.1:{free_port}")
    test_client: Client = TestClient(TestServer(create_app(settings, bus=bus), host="127.0.0.1"))
    await test_client.start_server()
    try:
        from shared.contracts.events import (
            ClassificationCompleted,
            ClassificationOutcome,
            Event,
            EventType,
        )

        resp = await test_client.get("/events")
        await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
        outcome = ClassificationOutcome.model_validate(
            {
                "classification_id": "bus1",
                "status": "completed",
                "created_at": "2026-01-01T00:00:00Z",
                "content_type": "image/jpeg",
                "image_url": "/api/v1/classifications/bus1/image",
                "top_k": [{"index": 0, "label": "bellflower", "score": 0.9}],
            }
        )
        await bus.publish(
            Event(
                type=EventType.CLASSIFICATION_COMPLETED,
                source="kkot.was",
                data=ClassificationCompleted(outcome=outcome),
            )
        )
        event = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
        assert event.startswith(b"id: bus1")
        resp.close()
    finally:
        await test_client.close()
        await bus.close()


async def test_slow_listener_is_dropped_not_blocking() -> None:
    from services.web.live import Broadcaster

    broadcaster = Broadcaster(queue_size=2, max_listeners=10)
    record = ClassificationRecord.model_validate(
        {
            "id": "x",
            "status": "completed",
            "created_at": "2026-01-01T00:00:00Z",
            "content_type": "image/jpeg",
            "image_url": "/x",
        }
    )
    async with broadcaster.listen() as slow, broadcaster.listen() as fast:
        for _ in range(3):
            broadcaster.publish(record)
            if not fast.queue.empty():
                fast.queue.get_nowait()
        assert slow.dropped and len(broadcaster) == 1
        assert not fast.dropped


async def test_unknown_page_is_a_friendly_404(client: Client) -> None:
    resp = await client.get("/no/such/page", headers={"Accept-Language": "en"})
    assert resp.status == 404
    assert resp.content_type == "text/html"
    assert "could not find" in await resp.text()
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    missing = await client.get("/static/nope.js")
    assert missing.status == 404


async def test_client_leaving_a_live_stream_is_not_an_error(free_port: int) -> None:
    import aiohttp
    import structlog

    from tests.e2e.conftest import free_ports

    # A real AppRunner (as `kkot run` uses): handlers are not cancelled when the client
    # goes, so the next heartbeat meets the closed socket.
    (port,) = free_ports(1)
    settings = WebSettings(was_url=f"http://127.0.0.1:{free_port}", sse_heartbeat_s=0.1)
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        with structlog.testing.capture_logs() as logs:
            async with aiohttp.ClientSession() as http:
                resp = await http.get(f"http://127.0.0.1:{port}/events")
                await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
                resp.close()  # the browser goes away
            for _ in range(50):
                await asyncio.sleep(0.05)
                if any(line.get("event") == "request" for line in logs):
                    break
    finally:
        await runner.cleanup()
    assert not [line for line in logs if line.get("log_level") == "error"], logs
    assert [line["status"] for line in logs if line.get("event") == "request"] == [200]
