"""Failures behind the gateway: the model endpoint down gives 503 within a bounded time,
WAS down gives the gateway's 502; both in the one error shape, and the pages explain."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from services.runner import RunningStack, run_stack
from shared.contracts.errors import ErrorResponse
from tests.conftest import make_image_bytes
from tests.e2e.conftest import stack_config

pytestmark = [pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def doomed_stack(
    default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningStack]:
    """A stack of its own: these tests take services down."""
    config = stack_config(
        default_model_dir,
        tmp_path_factory.mktemp("doomed"),
        was={"read_timeout_s": 2.0, "connect_timeout_s": 0.5, "endpoint_max_attempts": 2},
    )
    async with run_stack(config) as running:
        yield running


async def test_endpoint_down_then_was_down(doomed_stack: RunningStack) -> None:
    stack = doomed_stack
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        form = aiohttp.FormData()
        form.add_field(
            "file", make_image_bytes("JPEG"), filename="a.jpg", content_type="image/jpeg"
        )
        async with http.post(f"{stack.url}/api/v1/classifications", data=form) as resp:
            assert resp.status == 201

        await stack.runners["model"].cleanup()  # the model endpoint goes away
        for _ in range(2):
            form = aiohttp.FormData()
            form.add_field(
                "file", make_image_bytes("JPEG"), filename="a.jpg", content_type="image/jpeg"
            )
            started = time.monotonic()
            async with http.post(f"{stack.url}/api/v1/classifications", data=form) as resp:
                elapsed = time.monotonic() - started
                assert resp.status == 503, await resp.text()
                assert "Retry-After" in resp.headers
                body = ErrorResponse.model_validate_json(await resp.read())
            assert elapsed < 10, f"503 took {elapsed:.1f}s"
            assert body.error.request_id == resp.headers["X-Request-ID"]
        async with http.get(f"{stack.url}/status", headers={"Accept-Language": "en"}) as resp:
            text = await resp.text()
            assert 'class="check ok"' in text  # WAS itself is alive
            assert 'class="check down"' in text  # but not ready: the endpoint is down

        await stack.runners["was"].cleanup()  # now WAS goes too
        async with http.get(f"{stack.url}/api/v1/labels") as resp:
            assert resp.status == 502
            assert resp.content_type == "application/json"
            body = ErrorResponse.model_validate_json(await resp.read())
            assert body.error.code == "upstream_error"
        async with http.get(f"{stack.url}/history", headers={"Accept-Language": "en"}) as resp:
            assert resp.status == 502
            assert "cannot be reached" in await resp.text()
        async with http.get(f"{stack.url}/") as resp:
            assert resp.status == 200  # the classify page itself still renders
