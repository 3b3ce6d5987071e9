"""Errors as a person meets them in real Chromium, through the gateway: a photo over the
limit through the no-JavaScript form, an empty file and a PDF with the page script, and
an API address opened in the browser — each a page (or a message) saying what happened
and what to do, never raw JSON and never a broken preview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from services.runner import RunningStack
from shared.limits import MAX_UPLOAD_BYTES
from tests.browser import CHROMIUM

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


async def test_a_27_mb_photo_without_javascript_gets_a_page_naming_the_limit(
    stack: RunningStack, browser: Any, tmp_path: Path, artifacts_dir: Path
) -> None:
    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff\xd8\xff\xe0" + bytes(27 * 1024 * 1024))
    context = await browser.new_context(java_script_enabled=False, locale="en-US")
    page = await context.new_page()
    await page.goto(f"{stack.url}/")
    await page.set_input_files("#file", str(big))
    async with page.expect_navigation() as navigation:
        await page.click("#submit-button")
    response = await navigation.value
    assert response is not None and response.status == 413
    assert response.headers["content-type"].startswith("text/html")
    text = await page.text_content("body") or ""
    assert f"up to {MAX_UPLOAD_BYTES >> 20} MB" in text
    assert '"error"' not in text
    await page.screenshot(path=str(artifacts_dir / "error-too-large-nojs-en.png"), full_page=True)
    await context.close()


async def test_an_empty_file_and_a_pdf_get_a_message_and_no_broken_preview(
    stack: RunningStack, browser: Any, artifacts_dir: Path
) -> None:
    context = await browser.new_context(locale="ko-KR")
    page = await context.new_page()
    await page.goto(f"{stack.url}/")
    await page.set_input_files(
        "#file", files=[{"name": "empty.jpg", "mimeType": "image/jpeg", "buffer": b""}]
    )
    await page.wait_for_selector("#progress.error:not([hidden])")
    assert "빈 파일입니다" in (await page.text_content("#progress") or "")
    assert await page.is_hidden("#preview")

    # Sent anyway: the server's answer is the same clear message, not "try again later".
    async with page.expect_response(
        lambda r: r.url.endswith("/results") and r.request.method == "POST"
    ) as sent:
        await page.click("#submit-button")
    assert (await sent.value).status == 400
    await expect(page.locator("#progress")).to_contain_text("빈 파일입니다")

    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    await page.set_input_files(
        "#file", files=[{"name": "paper.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    await expect(page.locator("#progress")).to_contain_text("JPEG, PNG, WebP")
    assert await page.is_hidden("#preview")
    broken = await page.evaluate(
        "[...document.images].filter(i => i.getAttribute('src') && i.complete"
        " && i.naturalWidth === 0).length"
    )
    assert broken == 0
    await page.screenshot(path=str(artifacts_dir / "error-pdf-ko.png"), full_page=True)
    await context.close()


async def test_an_api_address_opened_in_the_browser_is_a_page(
    stack: RunningStack, browser: Any, artifacts_dir: Path
) -> None:
    context = await browser.new_context(locale="en-US", color_scheme="dark")
    page = await context.new_page()
    response = await page.goto(f"{stack.url}/api/v1/classifications/no-such-record")
    assert response is not None and response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "We could not find that page or classification." in (
        await page.text_content("main") or ""
    )
    await page.screenshot(path=str(artifacts_dir / "error-api-404-en-dark.png"), full_page=True)
    await context.close()
