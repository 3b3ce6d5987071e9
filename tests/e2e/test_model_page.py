"""The model in pictures, in real Chromium: two pipeline runs register two flower models
(the second deployed into the running stack); the model page then shows the classes,
the confusion matrix and per-class precision/recall as server-drawn SVG, the accuracy
of both versions over time with the deployed one marked, and the thumbnails of the
photos it got wrong — with JavaScript off, so nothing but the server drew them. The
classify page offers the artifact's smoke-set photos as examples, one click each."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services.model.train.hyperparameters import Hyperparameters
from services.pipeline.run import RunOptions, run_pipeline
from services.pipeline.settings import PipelineSettings
from services.runner import RunningStack, run_stack
from tests.browser import CHROMIUM
from tests.e2e.axe import ensure_axe, run_axe, summary
from tests.e2e.conftest import stack_config
from tests.e2e.test_browser import ConsoleWatch
from tests.train.helpers import LABELS, copy_subset

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.browser,
    pytest.mark.dataset,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

HP = Hyperparameters(epochs=60, flip_augment=False, tta=False, seed=5)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def trained_stack(
    default_model_dir: Path,
    registry: Path,
    flowers_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningStack]:
    """A stack whose WAS reads `registry`; v1 registered only, v2 deployed into it."""
    work = tmp_path_factory.mktemp("model-page")
    config = stack_config(default_model_dir, work / "was", was={"registry_dir": registry})
    async with run_stack(config) as stack:
        settings = PipelineSettings(
            registry_dir=registry,
            endpoint_url=stack.config.url(stack.config.model_port),
            min_accuracy=0.5,
        )
        for run, deploy in ((1, False), (2, True)):
            data = copy_subset(flowers_dir, work / f"data{run}", 10, skip=10 * (run - 1))
            options = RunOptions(data=data, min_accuracy=0.5, deploy=deploy, hyperparameters=HP)
            code, summary = await run_pipeline(options, settings, bus=stack.bus)
            assert code == 0, summary
        assert summary.status == "deployed", summary
        yield stack


def _deployed_artifact(registry: Path) -> Path:
    return Path(json.loads((registry / "deployment.json").read_text())["current"]["model_dir"])


async def test_the_model_page_draws_the_model_without_javascript(
    trained_stack: RunningStack, registry: Path, browser: Any, artifacts_dir: Path
) -> None:
    context = await browser.new_context(
        java_script_enabled=False, locale="en-US", viewport={"width": 1280, "height": 900}
    )
    page = await context.new_page()
    response = await page.goto(f"{trained_stack.url}/model")
    assert response is not None and response.status == 200

    # The classes, by their catalog names (one spelling everywhere).
    chips = await page.locator(".chips .chip").all_inner_texts()
    assert sorted(chips) == ["Astilbe", "Bellflower", "Black-eyed Susan"]

    # Confusion matrix: one cell per (actual, predicted) pair, counts summing to the
    # evaluated photos of the deployed artifact.
    artifact = _deployed_artifact(registry)
    evaluation = json.loads((artifact / "evaluation.json").read_text())
    counts = await page.locator("svg#confusion text.count").all_text_contents()
    assert len(counts) == len(LABELS) ** 2
    assert sum(int(c) for c in counts) == evaluation["samples"]
    assert await page.get_attribute("svg#confusion", "role") == "img"

    # The accuracy shown is the grouped cross-validated one, with its 95 % interval and
    # a note on what it estimates.
    assert evaluation["method"] == "grouped 5-fold cross-validation"
    assert "95% interval" in (await page.text_content("table.metrics") or "")
    note = await page.text_content(".estimate-note") or ""
    assert "grouped 5-fold cross-validation" in note and "new photos" in note

    # Precision and recall: two bars per class.
    assert await page.locator("svg#per-class rect.bar").count() == 2 * len(LABELS) + 2

    # Both registered versions over time, the deployed one (v2) ringed and named.
    history = page.locator("svg#history-chart")
    assert await history.locator("circle.dot").count() == 2
    assert await history.locator("circle.ring").count() == 1
    assert "v2" in (await page.text_content("table.versions tr.deployed") or "")
    assert "deployed" in (await history.text_content() or "")

    # The gallery shows every thumbnail the artifact kept, captioned with the mistake.
    mistakes = json.loads((artifact / "misclassified.json").read_text())["images"]
    kept = [m for m in mistakes if m.get("thumbnail")]
    assert len(kept) == min(len(mistakes), 24)
    gallery = page.locator(".gallery img")
    assert await gallery.count() == len(kept)
    if kept:
        alt = await gallery.first.get_attribute("alt") or ""
        assert " taken for " in alt
        assert await gallery.first.evaluate("img => img.naturalWidth") > 0

    # Nothing came from anywhere but the stack.
    sources = await page.evaluate(
        "[...document.querySelectorAll('[src],[href]')].map(e => e.src || e.href)"
    )
    assert all(s.startswith((trained_stack.url, "data:")) for s in sources), sources
    await page.screenshot(path=str(artifacts_dir / "model-page-en.png"), full_page=True)
    await context.close()


async def test_the_model_page_in_korean_dark_on_a_phone(
    trained_stack: RunningStack, browser: Any, artifacts_dir: Path
) -> None:
    context = await browser.new_context(
        locale="ko-KR", color_scheme="dark", viewport={"width": 390, "height": 844}
    )
    page = await context.new_page()
    watch = ConsoleWatch(page)
    await page.goto(f"{trained_stack.url}/model")
    assert "루드베키아" in " ".join(await page.locator(".chips .chip").all_inner_texts())
    assert await page.locator("svg#confusion").count() == 1
    await page.screenshot(path=str(artifacts_dir / "model-page-ko-dark-phone.png"), full_page=True)
    assert watch.problems == [], watch.problems
    await context.close()


async def test_an_example_photo_classifies_with_one_click(
    trained_stack: RunningStack, registry: Path, browser: Any, artifacts_dir: Path
) -> None:
    smoke = json.loads((_deployed_artifact(registry) / "smoke_test.json").read_text())
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    watch = ConsoleWatch(page)
    await page.goto(f"{trained_stack.url}/")
    examples = page.locator("button.example")
    assert await examples.count() == len({case["label"] for case in smoke["cases"]})
    assert await examples.first.locator("img").evaluate("img => img.naturalWidth") > 0
    await page.screenshot(path=str(artifacts_dir / "classify-examples-en.png"), full_page=True)
    # The examples follow the smoke set's class order; the last is black_eyed_susan.
    assert sorted({case["label"] for case in smoke["cases"]})[-1] == "black_eyed_susan"
    async with page.expect_navigation():
        await examples.last.click()
    assert "/results/" in page.url
    # Smoke-set photos are ones the model gets right; and the name reads as the catalog
    # spells it (innerText applies CSS text-transform, which once made it "Black-Eyed").
    assert (await page.inner_text(".result-name")).strip() == "Black-eyed Susan"
    assert "Black-eyed Susan" in await page.locator(".bar-label").all_inner_texts()
    assert watch.problems == [], watch.problems
    await context.close()


async def test_the_model_page_and_the_examples_have_no_serious_axe_violation(
    trained_stack: RunningStack, browser: Any
) -> None:
    axe_js = ensure_axe()
    if axe_js is None:
        pytest.skip("npm is not installed, so axe-core cannot be")
    blocking: list[str] = []
    for locale, scheme, width in itertools.product(
        ("ko-KR", "en-US"), ("light", "dark"), (390, 1280)
    ):
        context = await browser.new_context(
            locale=locale, color_scheme=scheme, viewport={"width": width, "height": 900}
        )
        await context.add_init_script(path=str(axe_js))
        page = await context.new_page()
        for path in ("/model", "/"):
            await page.goto(f"{trained_stack.url}{path}")
            where = f"{path} {locale} {scheme} {width}"
            blocking += [
                f"{where}: {line}"
                for line in summary(await run_axe(page))
                if line.startswith(("serious", "critical"))
            ]
        await context.close()
    assert blocking == [], "\n".join(blocking)
