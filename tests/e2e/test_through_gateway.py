"""The public path, gateway -> WAS -> model server (and gateway -> web), over real
sockets with the real default model."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import structlog
from aiohttp import web
from pydantic import SecretStr

from services.gateway.app import create_app as create_gateway
from services.gateway.settings import GatewaySettings
from services.runner import RunningStack
from shared.contracts.classification import (
    ClassificationPage,
    ClassificationRecord,
    ClassificationStatus,
    TutorialResponse,
)
from shared.contracts.errors import ErrorResponse

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.dataset]


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


def _form_bytes(path: Path) -> bytes:
    return path.read_bytes()


def _form(path: Path, field: str = "file") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(field, path.read_bytes(), filename=path.name, content_type="image/jpeg")
    return form


async def _classify(
    http: aiohttp.ClientSession, stack: RunningStack, photo: Path
) -> ClassificationRecord:
    async with http.post(f"{stack.url}/api/v1/classifications", data=_form(photo)) as resp:
        assert resp.status == 201, await resp.text()
        return ClassificationRecord.model_validate_json(await resp.read())


async def test_classify_a_flower_photo(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photo: Path
) -> None:
    record = await _classify(http, stack, flower_photo)
    assert record.status == ClassificationStatus.COMPLETED
    assert record.label and len(record.top_k) >= 3
    assert abs(sum(item.score for item in record.top_k) - 1) < 1 or record.top_k[0].score > 0
    assert record.top_k[0].label == record.label
    # The stored photo comes back through the gateway byte for byte.
    async with http.get(stack.url + record.image_url) as resp:
        assert resp.status == 200
        assert await resp.read() == _form_bytes(flower_photo)


async def test_tutorial_endpoint_through_gateway(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photo: Path
) -> None:
    async with http.post(f"{stack.url}/classify/image", data=_form(flower_photo)) as resp:
        assert resp.status == 200
        answer = TutorialResponse.model_validate_json(await resp.read())
    assert 0 <= answer.result.acc <= 1 and answer.result.name


async def test_async_job_reaches_completed(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photo: Path
) -> None:
    async with http.post(
        f"{stack.url}/api/v1/classifications",
        data=_form(flower_photo),
        headers={"Prefer": "respond-async"},
    ) as resp:
        assert resp.status == 202
        location = resp.headers["Location"]
        first = ClassificationRecord.model_validate_json(await resp.read())
    assert first.status == ClassificationStatus.PENDING
    deadline = time.monotonic() + 30
    record = first
    while record.status == ClassificationStatus.PENDING and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        async with http.get(stack.url + location if location.startswith("/") else location) as r:
            record = ClassificationRecord.model_validate_json(await r.read())
    assert record.status == ClassificationStatus.COMPLETED
    assert record.id == first.id and record.label


async def test_history_pagination(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photos: dict[str, list[Path]]
) -> None:
    for photos in flower_photos.values():
        await _classify(http, stack, photos[1])
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        async with http.get(f"{stack.url}/api/v1/classifications", params=params) as resp:
            assert resp.status == 200
            page = ClassificationPage.model_validate_json(await resp.read())
        assert len(page.items) <= 2
        seen.extend(item.id for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) >= 3
    assert len(seen) == len(set(seen)), "pages do not overlap"
    times = []
    for item_id in seen:
        async with http.get(f"{stack.url}/api/v1/classifications/{item_id}") as resp:
            times.append(ClassificationRecord.model_validate_json(await resp.read()).created_at)
    assert times == sorted(times, reverse=True), "newest first"


async def test_request_id_propagates_end_to_end(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photo: Path
) -> None:
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        async with http.post(
            f"{stack.url}/api/v1/classifications",
            data=_form(flower_photo),
            headers={"X-Request-ID": "e2e-trace-42"},
        ) as resp:
            assert resp.status == 201
            assert resp.headers["X-Request-ID"] == "e2e-trace-42"
    services = {
        line.get("service")
        for line in logs
        if line.get("request_id") == "e2e-trace-42" and line.get("event") == "request"
    }
    # The model server's hop (aioboto3 InvokeEndpoint) carries the id in the
    # `request_id` custom attribute: SageMaker forwards no other header.
    assert {"gateway", "was", "model"} <= services, services
    model_line = next(
        line
        for line in logs
        if line.get("service") == "model"
        and line.get("event") == "request"
        and line.get("request_id") == "e2e-trace-42"
    )
    assert model_line["path"].endswith("/invocations") and model_line["status"] == 200
    gateway_line = next(
        line for line in logs if line.get("service") == "gateway" and line["event"] == "request"
    )
    assert gateway_line["upstream"] == "was" and gateway_line["upstream_ms"] > 0


async def test_hop_by_hop_headers_do_not_cross(
    stack: RunningStack, http: aiohttp.ClientSession
) -> None:
    async with http.get(
        f"{stack.url}/api/v1/labels",
        headers={"Connection": "keep-alive, X-Drop-Me", "X-Drop-Me": "1", "TE": "trailers"},
    ) as resp:
        assert resp.status == 200
        for name in ("Keep-Alive", "Trailer", "Upgrade", "Proxy-Authenticate"):
            assert name not in resp.headers
        assert not ("Content-Length" in resp.headers and "Transfer-Encoding" in resp.headers), (
            "one framing only"
        )


async def test_sse_through_gateway_sees_new_classification(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photo: Path
) -> None:
    async with http.get(f"{stack.url}/events", headers={"Accept-Language": "en"}) as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"] == "text/event-stream"
        await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)  # retry + connected
        record = await _classify(http, stack, flower_photo)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)
            if chunk.startswith(f"id: {record.id}".encode()):
                data = json.loads(chunk.split(b"data: ", 1)[1])
                assert data["id"] == record.id
                assert f'data-id="{record.id}"' in data["html"]
                break
        else:
            pytest.fail("the new classification never arrived over SSE")


async def test_pages_through_gateway(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photo: Path
) -> None:
    record = await _classify(http, stack, flower_photo)
    async with http.get(f"{stack.url}/results/{record.id}", headers={"Accept-Language": "ko"}) as r:
        text = await r.text()
        assert r.status == 200
        assert "확신도" in text and (record.display_name or "") in text
    async with http.get(f"{stack.url}/history", headers={"Accept-Language": "en"}) as r:
        assert f'data-id="{record.id}"' in await r.text()
    async with http.get(f"{stack.url}/model") as r:
        assert record.model_version and record.model_version in await r.text()
    async with http.get(f"{stack.url}/status", headers={"Accept-Language": "en"}) as r:
        text = await r.text()
        assert 'class="check ok"' in text and 'class="check down"' not in text


async def test_no_js_form_post_renders_the_result(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photo: Path
) -> None:
    async with http.post(
        f"{stack.url}/", data=_form(flower_photo), headers={"Accept-Language": "en"}
    ) as resp:
        assert resp.status == 200
        assert "/results/" in str(resp.url)
        text = await resp.text()
    assert "% confident" in text and 'class="bar"' in text


async def _extra_gateway(stack: RunningStack, **settings: object) -> web.AppRunner:
    """A second gateway, tuned by the test, in front of the same WAS and web."""
    config = stack.config
    app = create_gateway(
        GatewaySettings.model_validate(
            {
                "was_url": config.url(config.was_port),
                "web_url": config.url(config.web_port),
                **settings,
            }
        )
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner


def _url(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"


async def test_rate_limit_429_with_retry_after(
    stack: RunningStack, http: aiohttp.ClientSession
) -> None:
    runner = await _extra_gateway(stack, rate_capacity=3, rate_refill_per_s=0.2)
    try:
        statuses = []
        for _ in range(5):
            async with http.get(_url(runner) + "/api/v1/labels") as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    assert int(resp.headers["Retry-After"]) >= 1
                    body = ErrorResponse.model_validate_json(await resp.read())
                    assert body.error.code == "rate_limited"
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    finally:
        await runner.cleanup()


async def test_api_keys_401_403(stack: RunningStack, http: aiohttp.ClientSession) -> None:
    runner = await _extra_gateway(stack, api_keys=[SecretStr("k-123")])
    try:
        base = _url(runner)
        async with http.get(base + "/api/v1/labels") as resp:
            assert resp.status == 401
            assert ErrorResponse.model_validate_json(await resp.read()).error.code
        async with http.get(base + "/api/v1/labels", headers={"X-API-Key": "bad"}) as resp:
            assert resp.status == 403
        async with http.get(
            base + "/api/v1/labels", headers={"Authorization": "Bearer k-123"}
        ) as resp:
            assert resp.status == 200
        # Keys on, pages need a key or a session too; a browser is sent to sign in.
        async with http.get(base + "/", headers={"Accept": "text/html"}) as resp:
            assert resp.status == 200 and resp.url.path == "/login"
    finally:
        await runner.cleanup()


async def test_body_limit_413(stack: RunningStack, http: aiohttp.ClientSession) -> None:
    runner = await _extra_gateway(stack, max_body_bytes=100_000)
    try:
        big = aiohttp.FormData()
        big.add_field("file", b"\xff" * 200_000, filename="a.jpg", content_type="image/jpeg")
        async with http.post(_url(runner) + "/api/v1/classifications", data=big) as resp:
            assert resp.status == 413
            body = ErrorResponse.model_validate_json(await resp.read())
            assert body.error.code == "payload_too_large"

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(30):
                yield b"\x00" * 10_000

        async with http.post(
            _url(runner) + "/api/v1/classifications",
            data=chunked(),
            headers={"Content-Type": "image/jpeg"},
        ) as resp:
            assert resp.status == 413
    finally:
        await runner.cleanup()


async def test_conditional_and_head_requests_for_static_files(
    stack: RunningStack, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{stack.url}/static/app.css") as resp:
        assert resp.status == 200
        body = await resp.read()
        last_modified = resp.headers["Last-Modified"]
        assert "max-age=" in resp.headers["Cache-Control"]
    async with http.get(
        f"{stack.url}/static/app.css", headers={"If-Modified-Since": last_modified}
    ) as resp:
        assert resp.status == 304
        assert await resp.read() == b""
    async with http.head(f"{stack.url}/static/app.css") as resp:
        assert resp.status == 200
        assert int(resp.headers["Content-Length"]) == len(body)
