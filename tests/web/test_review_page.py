"""The Review page on a real socket: it lists the review set in its order, each button
records one decision in the label-overrides file (who and when), and bad posts are
friendly 4xx pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.web.app import create_app
from services.web.settings import WebSettings
from shared.contracts.review import (
    OVERRIDES_FILE,
    REVIEW_SET_FILE,
    Decision,
    LabelOverrides,
    ReviewSet,
)
from shared.principal import PRINCIPAL_HEADER
from tests.review.helpers import write_review_set

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def review_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "review"
    write_review_set(folder)
    return folder


@pytest.fixture
async def client(free_port: int, review_dir: Path) -> AsyncIterator[Client]:
    # Nothing listens on free_port: WAS is down, and the page does without its names.
    settings = WebSettings(was_url=f"http://127.0.0.1:{free_port}", review_dir=review_dir)
    test_client: Client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
    await test_client.start_server()
    yield test_client
    await test_client.close()


def _review(review_dir: Path) -> ReviewSet:
    return ReviewSet.model_validate_json((review_dir / REVIEW_SET_FILE).read_bytes())


def _overrides(review_dir: Path) -> LabelOverrides:
    return LabelOverrides.model_validate_json((review_dir / OVERRIDES_FILE).read_bytes())


async def test_the_page_lists_the_doubtful_photos_most_doubtful_first(
    client: Client, review_dir: Path
) -> None:
    resp = await client.get("/review", headers={"Accept-Language": "en"})
    text = await resp.text()
    assert resp.status == 200
    first, second = (text.index(item.path) for item in _review(review_dir).items)
    assert first < second
    assert "Relabel as astilbe" in text and "Keep bellflower" in text and "Exclude" in text
    assert "Almost the same photo (93% alike) is labelled astilbe: astilbe/other.jpg" in text
    assert 'aria-current="page">Review</a>' in text
    thumbnail = _review(review_dir).items[0].thumbnail
    assert thumbnail is not None
    image = await client.get(f"/review/{thumbnail}")
    assert image.status == 200 and image.content_type == "image/jpeg"


async def test_one_click_records_the_decision_with_who_and_when(
    client: Client, review_dir: Path
) -> None:
    item = _review(review_dir).items[0]
    resp = await client.post(
        f"/review/{item.sha256}",
        data={"relabel": "astilbe"},
        headers={PRINCIPAL_HEADER: "key:0123456789abcdef"},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert resp.headers["Location"] == f"/review#p-{item.sha256[:12]}"
    (decision,) = _overrides(review_dir).overrides
    assert (decision.sha256, decision.path, decision.label) == (item.sha256, item.path, item.label)
    assert (decision.decision, decision.new_label) == (Decision.RELABEL, "astilbe")
    assert decision.decided_by == "key:0123456789abcdef"
    assert (datetime.now(UTC) - decision.decided_at).total_seconds() < 60
    # A second click changes the decision rather than adding one; the page shows it.
    await client.post(f"/review/{item.sha256}", data={"decision": "exclude"})
    (decision,) = _overrides(review_dir).overrides
    assert decision.decision == Decision.EXCLUDE and decision.decided_by == "anonymous"
    page = await (await client.get("/review", headers={"Accept-Language": "en"})).text()
    assert "Decided: leave this photo out of training." in page
    assert 'value="exclude" aria-pressed="true"' in page


async def test_bad_decisions_are_friendly_4xx_pages_and_change_nothing(
    client: Client, review_dir: Path
) -> None:
    item = _review(review_dir).items[0]
    cases = [
        (f"/review/{item.sha256}", {"decision": "delete"}, 400),
        (f"/review/{item.sha256}", {"relabel": "tulip"}, 400),
        (f"/review/{item.sha256}", {"relabel": item.label}, 400),
        (f"/review/{'f' * 64}", {"decision": "keep"}, 404),
        ("/review/not-a-hash", {"decision": "keep"}, 404),
    ]
    for path, form, status in cases:
        resp = await client.post(path, data=form, headers={"Accept": "text/html"})
        assert resp.status == status, (path, form)
        assert resp.content_type == "text/html"
    assert not (review_dir / OVERRIDES_FILE).exists()
    assert (await client.get(f"/review/thumbnails/{'e' * 24}.jpg")).status == 404


async def test_without_a_review_set_the_page_says_how_to_make_one(
    free_port: int, tmp_path: Path
) -> None:
    settings = WebSettings(was_url=f"http://127.0.0.1:{free_port}", review_dir=tmp_path / "none")
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        resp = await client.get("/review", headers={"Accept-Language": "en"})
        text = await resp.text()
    assert resp.status == 200
    assert "No review set yet" in text and "kkot data review --data DIR" in text


async def test_a_new_review_set_shows_without_a_restart(client: Client, review_dir: Path) -> None:
    first = await (await client.get("/review")).text()
    old = _review(review_dir)
    assert all(item.path in first for item in old.items)
    newer = old.model_copy(update={"items": old.items[1:]})
    (review_dir / REVIEW_SET_FILE).write_text(newer.model_dump_json(indent=4))
    page = await (await client.get("/review")).text()
    assert old.items[0].path not in page and old.items[1].path in page
