"""The review loop end to end, in real Chromium (issue 14's "done when"):

`kkot data review` over a few dozen flower photos with one deliberately wrong label ->
the Review page shows that photo near the top -> one click relabels it -> the
label-overrides file holds the decision -> `kkot pipeline run --overrides FILE` trains
on the corrected label, and the model card and the registry record the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services.cli import main as kkot
from services.pipeline.registry import LocalRegistry
from services.runner import RunningStack, run_stack
from shared.contracts.review import OVERRIDES_FILE, Decision, LabelOverrides, ReviewSet
from tests.browser import CHROMIUM
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

PER_CLASS = 11
# Fast settings: no mirror images, fewer head iterations.
HYPERPARAMETERS = {"flip_augment": False, "epochs": 60, "seed": 5}
# "Near the top": among the first few of the ranked set.
NEAR_THE_TOP = 3


@pytest.fixture(scope="module")
def mislabelled(flowers_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A dataset of PER_CLASS photos per class where one astilbe sits in bellflower/."""
    base = tmp_path_factory.mktemp("review-loop")
    data = copy_subset(flowers_dir, base / "data", PER_CLASS)
    wrong = sorted((data / "astilbe").glob("*.jpg"))[0]
    moved = data / "bellflower" / wrong.name
    shutil.move(wrong, moved)
    hyperparameters = base / "hyperparameters.json"
    hyperparameters.write_text(json.dumps(HYPERPARAMETERS))
    return {
        "base": base,
        "data": data,
        "path": f"bellflower/{wrong.name}",
        "sha256": hashlib.sha256(moved.read_bytes()).hexdigest(),
        "hyperparameters": hyperparameters,
        "review": base / "review",
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    default_model_dir: Path, stack_data_dir: Path, mislabelled: dict[str, Any]
) -> AsyncIterator[RunningStack]:
    """The review set made by the command, then the stack with web reading it."""
    code = await asyncio.to_thread(
        kkot,
        [
            "data",
            "review",
            "--data",
            str(mislabelled["data"]),
            "--out",
            str(mislabelled["review"]),
            "--hyperparameters",
            str(mislabelled["hyperparameters"]),
        ],
    )
    assert code == 0
    config = stack_config(
        default_model_dir, stack_data_dir, web={"review_dir": mislabelled["review"]}
    )
    async with run_stack(config) as running:
        yield running


async def test_relabel_on_the_review_page_reaches_the_trained_model(
    stack: RunningStack,
    browser: Any,
    mislabelled: dict[str, Any],
    artifacts_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    review = ReviewSet.model_validate_json((mislabelled["review"] / "review_set.json").read_bytes())
    assert review.examined == PER_CLASS * len(LABELS)

    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    watch = ConsoleWatch(page)
    await page.goto(f"{stack.url}/review")
    shown = [
        (await item.inner_text()).strip()
        for item in await page.query_selector_all(".review-item .review-path")
    ]
    assert mislabelled["path"] in shown, shown
    rank = shown.index(mislabelled["path"])
    assert rank < NEAR_THE_TOP, shown
    item = page.locator(".review-item").nth(rank)
    assert (await item.locator(".review-opinion").inner_text()).startswith("astilbe")
    await item.locator("img.review-thumb").wait_for()
    assert await item.locator("img.review-thumb").evaluate("(img) => img.naturalWidth > 0")

    await item.get_by_role("button", name="Relabel as astilbe").click()
    await page.wait_for_load_state("load")
    decided = page.locator(f"#p-{mislabelled['sha256'][:12]} .review-decided")
    assert (await decided.inner_text()).strip() == "Decided: relabel as astilbe."
    await page.screenshot(path=str(artifacts_dir / "review-relabelled-en.png"), full_page=True)
    assert watch.problems == [], watch.problems
    await context.close()

    overrides_file = mislabelled["review"] / OVERRIDES_FILE
    (decision,) = LabelOverrides.model_validate_json(overrides_file.read_bytes()).overrides
    assert (decision.sha256, decision.path) == (mislabelled["sha256"], mislabelled["path"])
    assert (decision.label, decision.decision, decision.new_label) == (
        "bellflower",
        Decision.RELABEL,
        "astilbe",
    )
    assert decision.decided_by == "anonymous"

    registry_dir = mislabelled["base"] / "registry"
    capsys.readouterr()
    code = await asyncio.to_thread(
        kkot,
        [
            "pipeline",
            "run",
            "--data",
            str(mislabelled["data"]),
            "--overrides",
            str(overrides_file),
            "--hyperparameters",
            str(mislabelled["hyperparameters"]),
            "--registry",
            str(registry_dir),
            "--endpoint-url",
            stack.config.url(stack.config.model_port),
            "--min-accuracy",
            "0",
            "--no-deploy",
        ],
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    digest = hashlib.sha256(overrides_file.read_bytes()).hexdigest()
    # Trained on the corrected label: astilbe has its photo back.
    assert summary["validation"]["class_counts"] == dict.fromkeys(LABELS, PER_CLASS)
    assert summary["validation"]["overrides"] == {
        "digest": digest,
        "decisions": 1,
        "relabelled": 1,
        "excluded": 0,
        "kept": 0,
        "unmatched": 0,
    }
    registry = LocalRegistry(registry_dir)
    (version,) = registry.list_versions()
    assert version.lineage.overrides_digest == digest
    assert (version.lineage.overrides_relabelled, version.lineage.overrides_excluded) == (1, 0)
    card = (registry.artifact_dir(version) / "model_card.md").read_text()
    assert f"file sha256 `{digest}`" in card
    assert f"- relabelled {mislabelled['path']}: bellflower -> astilbe" in card
