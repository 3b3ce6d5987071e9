"""The Review page with keys on, through the gateway: it follows the one access rule
(a key or a signed-in session; a browser is sent to sign in), a session's decision
must come from this site, and the overrides file says whose decision it was (never a
header the caller made up)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from services.gateway.access import key_principal
from services.runner import RunningStack, run_stack
from shared.contracts.review import (
    OVERRIDES_FILE,
    REVIEW_SET_FILE,
    LabelOverrides,
    ReviewItem,
    ReviewSet,
)
from shared.principal import PRINCIPAL_HEADER
from tests.e2e.conftest import stack_config
from tests.review.helpers import write_review_set

pytestmark = pytest.mark.asyncio(loop_scope="module")

KEY = "reviewer-key-0123456789"


@pytest.fixture(scope="module")
def review_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("review")
    write_review_set(folder)
    return folder


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory, review_dir: Path
) -> AsyncIterator[RunningStack]:
    config = stack_config(
        default_model_dir,
        tmp_path_factory.mktemp("was-data"),
        gateway={"rate_capacity": 0, "api_keys": [KEY]},
        web={"review_dir": review_dir},
    )
    async with run_stack(config) as running:
        yield running


def _first(review_dir: Path) -> ReviewItem:
    review = ReviewSet.model_validate_json((review_dir / REVIEW_SET_FILE).read_bytes())
    return review.items[0]


def _decisions(review_dir: Path) -> LabelOverrides:
    return LabelOverrides.model_validate_json((review_dir / OVERRIDES_FILE).read_bytes())


async def test_the_review_page_needs_a_key_or_a_session(
    stack: RunningStack, review_dir: Path
) -> None:
    item = _first(review_dir)
    async with aiohttp.ClientSession() as anonymous:
        for method, path, data in (
            ("GET", "/review", None),
            ("GET", f"/review/{item.thumbnail}", None),
            ("POST", f"/review/{item.sha256}", {"decision": "exclude"}),
        ):
            async with anonymous.request(
                method, stack.url + path, data=data, allow_redirects=False
            ) as response:
                assert response.status == 401, (method, path)
        async with anonymous.get(
            stack.url + "/review", headers={"Accept": "text/html"}, allow_redirects=False
        ) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/login?next=/review"
    assert not (review_dir / OVERRIDES_FILE).exists()


async def test_a_signed_in_decision_records_the_key_holder_and_refuses_other_sites(
    stack: RunningStack, review_dir: Path
) -> None:
    item = _first(review_dir)
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        async with browser.post(
            stack.url + "/login", data={"key": KEY, "next": "/review"}, allow_redirects=False
        ) as response:
            assert response.status == 303
        async with browser.get(stack.url + "/review") as response:
            assert response.status == 200
            assert item.path in await response.text()
        # Another site's form, with this browser's cookie: refused, nothing written.
        async with browser.post(
            stack.url + f"/review/{item.sha256}",
            data={"decision": "exclude"},
            headers={"Origin": "https://evil.example"},
            allow_redirects=False,
        ) as response:
            assert response.status == 403
        assert not (review_dir / OVERRIDES_FILE).exists()
        # From this site, with a made-up principal header: recorded as the key's holder.
        async with browser.post(
            stack.url + f"/review/{item.sha256}",
            data={"relabel": "astilbe"},
            headers={"Origin": stack.url, PRINCIPAL_HEADER: "key:forged"},
            allow_redirects=False,
        ) as response:
            assert response.status == 303, await response.text()
    finally:
        await browser.close()
    (decision,) = _decisions(review_dir).overrides
    assert decision.new_label == "astilbe"
    assert decision.decided_by == key_principal(KEY)
    assert decision.decided_by == "key:" + hashlib.sha256(KEY.encode()).hexdigest()[:16]
