"""The UI in real Chromium (Debian's /usr/bin/chromium driven by Playwright): upload a
flower photo and see the result, watch History receive it live over SSE, the no-JS
form post, and no Content-Security-Policy violation anywhere. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest

from services.runner import RunningStack
from tests.browser import CHROMIUM

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.browser,
    pytest.mark.dataset,
    pytest.mark.skipif(
        not CHROMIUM.exists() or shutil.which("chromium") is None,
        reason="Debian's chromium is not installed (apt-get install chromium)",
    ),
]


class ConsoleWatch:
    """Console errors and page errors of one page (CSP violations are console errors)."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            self.problems.append(f"{message.type}: {message.text}")


async def test_upload_shows_result_and_history_updates_live(
    stack: RunningStack, browser: Any, flower_photo: Path, artifacts_dir: Path
) -> None:
    context = await browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900})
    history = await context.new_page()
    history_watch = ConsoleWatch(history)
    await history.goto(f"{stack.url}/history")
    await history.wait_for_selector("#live.live", timeout=10_000)

    page = await context.new_page()
    watch = ConsoleWatch(page)
    await page.goto(f"{stack.url}/")
    assert await page.text_content("h1") == "이 꽃은 무엇일까요?"
    await page.set_input_files("#file", str(flower_photo))
    await page.wait_for_selector("#preview:not([hidden])")
    await page.click("#submit-button")
    card = await page.wait_for_selector("#result article.result", timeout=30_000)
    record_id = await card.get_attribute("data-id")
    assert record_id
    name = await page.text_content("#result .result-name")
    assert name and name.strip()
    assert await page.locator("#result .bar-row").count() == 3
    assert await page.is_hidden("#progress")
    await page.screenshot(path=str(artifacts_dir / "classify-result-ko.png"), full_page=True)

    # The other tab got the new classification over SSE, without a reload.
    await history.wait_for_selector(f'.history-item[data-id="{record_id}"]', timeout=15_000)
    await history.screenshot(path=str(artifacts_dir / "history-live-ko.png"), full_page=True)

    # "Wrong? tell us": feedback through the API, in place.
    select = page.locator("#result select")
    options = await select.locator("option").evaluate_all("os => os.map(o => o.value)")
    await select.select_option(options[1])
    await page.click("#result form.feedback button")
    await page.wait_for_selector("#result .feedback-note:has-text('감사합니다')")

    assert watch.problems == [], watch.problems
    assert history_watch.problems == [], history_watch.problems
    await context.close()


async def test_no_js_form_post_works(
    stack: RunningStack, browser: Any, flower_photo: Path, artifacts_dir: Path
) -> None:
    context = await browser.new_context(
        java_script_enabled=False, locale="en-US", viewport={"width": 390, "height": 844}
    )
    page = await context.new_page()
    await page.goto(f"{stack.url}/")
    await page.set_input_files("#file", str(flower_photo))
    async with page.expect_navigation():
        await page.click("#submit-button")
    assert "/results/" in page.url
    assert (await page.text_content(".result-name") or "").strip()
    assert "confident" in (await page.text_content(".confidence") or "")
    await page.screenshot(path=str(artifacts_dir / "result-nojs-en-phone.png"), full_page=True)

    # Feedback without JavaScript: a plain form post and a redirect back.
    options = await page.locator("form.feedback option").count()
    assert options > 1
    await page.select_option("form.feedback select", index=1)
    async with page.expect_navigation():
        await page.click("form.feedback button")
    assert "thanks=1" in page.url
    await context.close()


async def test_pages_render_without_csp_violations(
    stack: RunningStack, browser: Any, artifacts_dir: Path
) -> None:
    for locale, width in (("en-US", 1200), ("ko-KR", 390)):
        context = await browser.new_context(locale=locale, viewport={"width": width, "height": 900})
        page = await context.new_page()
        watch = ConsoleWatch(page)
        for path in ("/", "/history", "/model", "/status"):
            response = await page.goto(f"{stack.url}{path}")
            assert response is not None and response.status == 200
            name = path.strip("/") or "classify"
            await page.screenshot(
                path=str(artifacts_dir / f"{name}-{locale[:2]}-{width}.png"), full_page=True
            )
        assert watch.problems == [], watch.problems
        await context.close()


async def test_large_photo_is_downscaled_before_upload(
    stack: RunningStack, browser: Any, tmp_path: Path
) -> None:
    from PIL import Image

    from tests.conftest import make_image_bytes

    big = tmp_path / "big.png"
    big.write_bytes(make_image_bytes("PNG", size=(3000, 2000)))
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    watch = ConsoleWatch(page)
    await page.goto(f"{stack.url}/")
    await page.set_input_files("#file", str(big))
    async with page.expect_response(
        lambda r: r.url.endswith("/results") and r.request.method == "POST"
    ) as posted:
        await page.click("#submit-button")
    response = await posted.value
    assert response.status == 200
    card = await page.wait_for_selector("#result article.result")
    record_id = await card.get_attribute("data-id")
    stored = await page.request.get(f"{stack.url}/api/v1/classifications/{record_id}")
    record = await stored.json()
    # What reached WAS is the canvas's JPEG, longest side 1024, not the 3000 px PNG.
    assert record["content_type"] == "image/jpeg"
    assert record["filename"] == "big.jpg"
    image_response = await page.request.get(f"{stack.url}{record['image_url']}")
    stored = Image.open(io.BytesIO(await image_response.body()))
    assert stored.format == "JPEG" and max(stored.size) == 1024
    assert watch.problems == [], watch.problems
    await context.close()


async def test_each_photo_is_one_request_and_labels_come_once(
    stack: RunningStack, browser: Any, flower_photos: dict[str, list[Path]]
) -> None:
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    watch = ConsoleWatch(page)
    await page.goto(f"{stack.url}/", wait_until="networkidle")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url.removeprefix(stack.url)}"))
    photos = [paths[0] for paths in flower_photos.values()][:2]
    for n, photo in enumerate(photos):
        requests.clear()
        await page.set_input_files("#file", str(photo))
        await page.wait_for_selector("#preview:not([hidden])")
        # Wait for this photo's own answer: the previous card already has its labels.
        async with page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/results")
        ):
            await page.click("#submit-button")
        # every label filled in (the default model has 1,000): an 11th option exists
        await page.locator("#result select option").nth(10).wait_for(state="attached")
        # The page's own files (the icon may come late) are not the photo's exchanges.
        sent = [r for r in requests if not r.startswith(("GET blob:", "GET /static/"))]
        if n == 0:
            # The first card also brings every label of this model version, once.
            assert sent[0] == "POST /results"
            assert len(sent) == 2 and sent[1].startswith("GET /labels/"), sent
        else:
            # The photo shown in the card is the one sent; the labels are held: one request.
            assert sent == ["POST /results"], sent
        thumb = await page.get_attribute("#result img.thumb-lg", "src")
        assert thumb and thumb.startswith("blob:")
    assert watch.problems == [], watch.problems
    await context.close()
