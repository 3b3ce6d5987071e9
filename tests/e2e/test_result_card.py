"""The browser's path for a photo, through the gateway of a real stack: one exchange
(`POST /results` answers with the result card), web asking WAS once per photo, the
labels fetched once per model version, and the current model revalidated by ETag.

Who asked whom is read from every service's canonical request log line (the stack
runs in this process, so `capture_logs` sees all four services)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import structlog

from services.runner import RunningStack

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.dataset]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _form(data: bytes, filename: str = "flower.jpg") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="image/jpeg")
    return form


def _requests(logs: list[dict[str, Any]]) -> list[tuple[str, str, str, int]]:
    """(service, method, path, status) of every request line, in order."""
    return [
        (line["service"], line["method"], line["path"], line["status"])
        for line in logs
        if line.get("event") == "request" and "service" in line
    ]


async def _post_photo(
    http: aiohttp.ClientSession, stack: RunningStack, data: bytes
) -> tuple[int, str, list[tuple[str, str, str, int]]]:
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        async with http.post(
            f"{stack.url}/results",
            data=_form(data),
            headers={"Accept": "text/html", "Accept-Language": "en"},
        ) as response:
            status, text = response.status, await response.text()
    return status, text, _requests(logs)


async def test_a_photo_is_one_exchange_answered_with_its_card(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photo: Path
) -> None:
    data = await asyncio.to_thread(flower_photo.read_bytes)
    await _post_photo(http, stack, data)  # the first meets a cold label cache
    status, card, seen = await _post_photo(http, stack, data)
    assert status == 200, card
    assert card.lstrip().startswith('<article class="card result"')
    assert re.search(r'data-id="[0-9a-f]{32}"', card)
    assert '<h2 class="result-name">' in card and "% confident" in card
    # The gateway, web and WAS each saw this photo once; web asked WAS nothing else
    # (no second read of the record, no labels).
    by_service = {(s, m, p) for s, m, p, _ in seen}
    assert ("gateway", "POST", "/results") in by_service
    assert [(m, p) for s, m, p, _ in seen if s == "web"] == [("POST", "/results")]
    assert [(m, p) for s, m, p, _ in seen if s == "was"] == [("POST", "/api/v1/classifications")]
    assert len([1 for s, *_ in seen if s == "gateway"]) == 1


async def test_the_card_lists_top_answers_and_points_at_every_label(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photo: Path
) -> None:
    data = await asyncio.to_thread(flower_photo.read_bytes)
    status, card, _ = await _post_photo(http, stack, data)
    assert status == 200
    # The light drop-down: a prompt and the top answers, not every label of the model.
    select = re.search(r"<select[^>]*>(.*?)</select>", card, re.S)
    assert select is not None
    assert 2 <= select.group(1).count("<option") <= 6
    options_url = re.search(r'data-options="([^"]+)"', card)
    assert options_url is not None
    url = options_url.group(1).replace("&amp;", "&")
    assert url.startswith("/labels/") and "lang=en" in url

    async with http.get(f"{stack.url}/api/v1/labels", headers={"Accept-Language": "en"}) as r:
        labels = (await r.json())["labels"]
    async with http.get(f"{stack.url}{url}") as response:
        assert response.status == 200
        assert "max-age=" in response.headers["Cache-Control"]
        options = await response.text()
    # Every label, plus the prompt.
    assert options.count("<option") == len(labels) + 1
    # Asked again (another browser), web already holds them: no call to WAS.
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        async with http.get(f"{stack.url}{url}") as response:
            assert await response.text() == options
    assert f'value="{labels[-1]["label"]}"' in options
    assert not [line for line in _requests(logs) if line[0] == "was"]


async def test_options_of_a_version_not_deployed_are_not_found(
    stack: RunningStack, http: aiohttp.ClientSession
) -> None:
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        async with http.get(f"{stack.url}/labels/no-such-version/options?lang=en") as response:
            assert response.status == 404
            assert response.content_type == "text/html"
    # Only the (cached, revalidated) current model was asked: no labels for a made-up version.
    assert ("was", "GET", "/api/v1/labels") not in {line[:3] for line in _requests(logs)}


async def test_pages_revalidate_the_model_with_its_etag(
    stack: RunningStack, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{stack.url}/api/v1/models/current") as current:
        version = (await current.json())["version"]
    async with http.get(f"{stack.url}/") as first:
        assert first.status == 200
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        async with http.get(f"{stack.url}/") as again:
            assert again.status == 200
        async with http.get(f"{stack.url}/model") as model_page:
            assert version in await model_page.text()
    # The 100-300 KB model came once; since then WAS answers 304 with no body.
    current_model = [line for line in _requests(logs) if line[2] == "/api/v1/models/current"]
    assert current_model == [("was", "GET", "/api/v1/models/current", 304)] * 2


async def test_a_bad_photo_gets_the_friendly_error_page(
    stack: RunningStack, http: aiohttp.ClientSession
) -> None:
    cases = ((b"", 400, "empty"), (b"%PDF-1.4 not a photo", 415, "not supported"))
    for data, status, message in cases:
        async with http.post(
            f"{stack.url}/results",
            data=_form(data, "x.jpg"),
            headers={"Accept": "text/html", "Accept-Language": "en"},
        ) as response:
            assert response.status == status, await response.text()
            assert response.content_type == "text/html"
            text = await response.text()
        assert 'class="error-text"' in text and message in text.lower()
