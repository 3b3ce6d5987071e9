"""The very first answer after the stack starts carries the flower's description (WAS
must know the model's catalog before it answers, not learn it during warm-up)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from services.runner import RunningStack

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.dataset]


async def test_the_first_classification_after_start_has_a_description(
    stack: RunningStack, flower_photo: Path
) -> None:
    form = aiohttp.FormData()
    form.add_field("file", await asyncio.to_thread(flower_photo.read_bytes), filename="f.jpg")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{stack.url}/api/v1/classifications", data=form) as response,
    ):
        assert response.status == 201, await response.text()
        record = await response.json()
    assert record["display_name"]
    assert record["description"], record
