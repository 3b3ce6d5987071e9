"""Issue 12 case 6 in real Chromium, keys on: a person signs in once and the whole UI
works through the session (upload through the API, the result card, thumbnails in
history, feedback); when the session is gone the page script's fallback posts the form
(no TypeError from a shadowed `form.submit`) and lands on the sign-in page."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import expect

from services.runner import RunningStack, run_stack
from tests.browser import CHROMIUM
from tests.conftest import make_image_bytes
from tests.e2e.conftest import stack_config
from tests.e2e.test_browser import ConsoleWatch

KEY = "browser-key-0123456789"

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() or shutil.which("chromium") is None,
        reason="Debian's chromium is not installed (apt-get install chromium)",
    ),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningStack]:
    config = stack_config(
        default_model_dir,
        tmp_path_factory.mktemp("was-data"),
        gateway={"rate_capacity": 0, "api_keys": [KEY]},
    )
    async with run_stack(config) as running:
        yield running


@pytest.fixture
def flower_photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(make_image_bytes("JPEG", size=(400, 300)))
    return path


async def _sign_in(page: Any, url: str) -> None:
    await page.goto(f"{url}/history")
    assert "/login" in page.url
    await page.fill("#key", KEY)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    assert page.url.endswith("/history")


async def test_signed_in_the_ui_works_and_thumbnails_load(
    stack: RunningStack, browser: Any, flower_photo: Path
) -> None:
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    watch = ConsoleWatch(page)
    await _sign_in(page, stack.url)
    await page.goto(f"{stack.url}/")
    await page.set_input_files("#file", str(flower_photo))
    await page.click("#submit-button")
    card = await page.wait_for_selector("#result article.result", timeout=30_000)
    record_id = await card.get_attribute("data-id")
    select = page.locator("#result select")
    options = await select.locator("option").evaluate_all("os => os.map(o => o.value)")
    await select.select_option(options[1])
    await page.click("#result form.feedback button")
    await page.wait_for_selector("#result .feedback-note:has-text('Thank')")
    await page.goto(f"{stack.url}/history")
    thumb = page.locator(f'.history-item[data-id="{record_id}"] img.thumb')
    await thumb.scroll_into_view_if_needed()
    await expect(thumb).to_have_js_property("complete", True)
    assert await thumb.evaluate("el => el.naturalWidth") > 0
    assert watch.problems == [], watch.problems
    await context.close()


async def test_without_a_session_the_fallback_form_post_goes_to_sign_in(
    stack: RunningStack, browser: Any, flower_photo: Path
) -> None:
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await _sign_in(page, stack.url)
    await page.goto(f"{stack.url}/")
    await context.clear_cookies()  # the session ends while the page is open
    await page.set_input_files("#file", str(flower_photo))
    async with page.expect_navigation(url="**/login**", timeout=30_000):
        await page.click("#submit-button")
    assert await page.is_visible("#key")
    assert errors == []
    await context.close()
