"""`pipeline run` into the running application: the app answers with the new model and
the web model page shows its version and metrics (issue 4's "done when")."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from services.model.train.hyperparameters import Hyperparameters
from services.pipeline.run import RunOptions, run_pipeline
from services.pipeline.settings import PipelineSettings
from services.pipeline.summary import Deployed
from services.runner import RunningStack
from shared.contracts.classification import ClassificationRecord
from tests.train.helpers import LABELS, copy_subset

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.dataset, pytest.mark.slow]


async def test_pipeline_deploys_into_the_running_app(
    stack: RunningStack, flowers_dir: Path, tmp_path: Path
) -> None:
    data = copy_subset(flowers_dir, tmp_path / "data", 10)
    model_url = stack.config.url(stack.config.model_port)
    settings = PipelineSettings(
        registry_dir=tmp_path / "registry", endpoint_url=model_url, min_accuracy=0.5
    )
    options = RunOptions(
        data=data,
        min_accuracy=0.5,
        hyperparameters=Hyperparameters(epochs=60, flip_augment=False, tta=False, seed=5),
    )
    code, summary = await run_pipeline(options, settings, bus=stack.bus)
    assert code == 0, summary
    assert summary.status == "deployed"
    assert isinstance(summary.deploy, Deployed), summary.deploy
    assert summary.deploy.live is True
    assert summary.deploy.smoke_test is not None and summary.deploy.smoke_test.passed
    version = str(summary.version)

    photo = sorted((flowers_dir / "black_eyed_susan").glob("*.jpg"))[20]
    form = aiohttp.FormData()
    form.add_field("file", photo.read_bytes(), filename=photo.name, content_type="image/jpeg")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        async with http.post(f"{stack.url}/api/v1/classifications", data=form) as resp:
            assert resp.status == 201, await resp.text()
            record = ClassificationRecord.model_validate_json(await resp.read())
        # The running application now answers with the flower model, not ImageNet's.
        assert (record.model_name, record.model_version) == ("kkot-flowers", version)
        assert record.label in LABELS
        assert {item.label for item in record.top_k} <= set(LABELS)

        async with http.get(f"{stack.url}/model", headers={"Accept-Language": "en"}) as resp:
            page = await resp.text()
    assert resp.status == 200
    accuracy = summary.metrics["accuracy"]
    assert "kkot-flowers" in page and f"<dd><code>{version}</code></dd>" in page
    assert "Held-out accuracy" in page and f"{accuracy * 100:.1f}%" in page
    # The interval sits beside the accuracy rather than as rows of its own.
    assert summary.evaluation.accuracy_ci95 is not None
    low, high = summary.evaluation.accuracy_ci95
    assert f"95% interval {low * 100:.1f}–{high * 100:.1f}%" in page
    assert "accuracy_ci95" not in page
