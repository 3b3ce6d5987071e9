"""Live history without a shared bus (separate containers): web polls WAS's list
endpoint and still streams new classifications over SSE."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from services.runner import RunningStack, run_stack
from shared.contracts.classification import ClassificationRecord
from tests.conftest import make_image_bytes
from tests.e2e.conftest import stack_config

pytestmark = [pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def polling_stack(
    default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningStack]:
    config = stack_config(
        default_model_dir,
        tmp_path_factory.mktemp("poll"),
        web={"events_source": "poll", "poll_interval_s": 0.2},
    )
    async with run_stack(config) as running:
        yield running


async def test_polling_feeds_sse(polling_stack: RunningStack) -> None:
    stack = polling_stack
    timeout = aiohttp.ClientTimeout(total=30)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"{stack.url}/events") as stream,
    ):
        await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)
        await asyncio.sleep(0.5)  # let the first poll take stock of what exists
        form = aiohttp.FormData()
        form.add_field(
            "file", make_image_bytes("JPEG"), filename="p.jpg", content_type="image/jpeg"
        )
        async with http.post(f"{stack.url}/api/v1/classifications", data=form) as resp:
            record = ClassificationRecord.model_validate_json(await resp.read())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)
            if chunk.startswith(f"id: {record.id}".encode()):
                break
        else:
            pytest.fail("polling never announced the new classification")
