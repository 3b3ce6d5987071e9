"""`python -m services.model.train` honours the SageMaker training-job contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from services.model.imaging import load_image_file, preprocess
from services.model.train.dataset import ValidationReport
from services.model.train.smoke_set import load_smoke_set
from shared.contracts.model import Evaluation, LabelList, ModelMetadata, Preprocessing
from tests.train.helpers import LABELS, generated_dataset

REPO = Path(__file__).resolve().parents[2]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.model.train", *args],
        cwd=REPO,
        env={**os.environ, "KKOT_CODE_VERSION": "test", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.dataset
@pytest.mark.slow
def test_sagemaker_paths_in_artifact_out(small_flowers: Path, tmp_path: Path) -> None:
    hyperparameters = tmp_path / "config" / "hyperparameters.json"
    hyperparameters.parent.mkdir()
    hyperparameters.write_text(json.dumps({"epochs": "60", "seed": "3", "flip_augment": "false"}))
    model_dir = tmp_path / "model"
    output_data = tmp_path / "output" / "data"
    result = _run(
        {
            "SM_CHANNEL_TRAIN": str(small_flowers),
            "SM_MODEL_DIR": str(model_dir),
            "SM_OUTPUT_DATA_DIR": str(output_data),
            "KKOT_TRAIN_OUTPUT_DIR": str(tmp_path / "output"),
            "KKOT_TRAIN_HYPERPARAMETERS_FILE": str(hyperparameters),
        }
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == ""  # logs on stderr only; the weights loader's print() is muted
    assert not (tmp_path / "output" / "failure").exists()

    metadata = ModelMetadata.model_validate_json((model_dir / "metadata.json").read_bytes())
    labels = LabelList.model_validate_json((model_dir / "labels.json").read_bytes()).labels
    evaluation = Evaluation.model_validate_json((model_dir / "evaluation.json").read_bytes())
    report = ValidationReport.model_validate_json(
        (output_data / "validation_report.json").read_bytes()
    )
    assert labels == list(LABELS)
    assert metadata.num_classes == 3 and metadata.hyperparameters["epochs"] == 60
    assert metadata.dataset_digest == report.dataset_digest
    assert metadata.code_version == "test"
    # Cross-validation by default: all 36 photos held out once, all 36 in the shipped head.
    assert evaluation.method == "grouped 5-fold cross-validation"
    assert evaluation.samples == sum(report.evaluation_counts.values()) == 36
    assert sum(report.train_counts.values()) == 36
    assert metadata.metrics["accuracy"] == pytest.approx(evaluation.accuracy)
    assert (model_dir / "confusion_matrix.png").read_bytes().startswith(b"\x89PNG")
    card = (model_dir / "model_card.md").read_text()
    assert metadata.dataset_digest in card and "astilbe" in card
    assert "(grouped 5-fold cross-validation)" in card and "95 % interval" in card
    catalog = json.loads((model_dir / "catalog.json").read_text())
    assert {e["label"] for e in catalog["entries"]} == set(LABELS)

    # The artifact is what the server loads: one graph, "input" -> softmax "probabilities".
    session = ort.InferenceSession(str(model_dir / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["input"]
    smoke = load_smoke_set(model_dir)
    assert smoke is not None and smoke.cases
    case = smoke.cases[0]
    batch = preprocess(load_image_file(model_dir / case.file), Preprocessing())[None]
    (probabilities,) = session.run(["probabilities"], {"input": batch})
    assert probabilities.shape == (1, 3)
    assert float(probabilities.sum()) == pytest.approx(1.0, abs=1e-5)
    assert labels[int(np.argmax(probabilities))] == case.label


def test_bad_dataset_writes_the_failure_file(tmp_path: Path) -> None:
    data = generated_dataset(tmp_path / "train", {"rose": 12})
    result = _run(
        {},
        "--data",
        str(data),
        "--model-dir",
        str(tmp_path / "model"),
        "--output-dir",
        str(tmp_path / "output"),
        "--hyperparameters",
        str(tmp_path / "none.json"),
    )
    assert result.returncode == 1
    failure = (tmp_path / "output" / "failure").read_text()
    assert "single class" in failure and "rose" in failure


def test_bad_hyperparameters_write_the_failure_file(tmp_path: Path) -> None:
    hyperparameters = tmp_path / "hp.json"
    hyperparameters.write_text(json.dumps({"epochs": "lots"}))
    result = _run(
        {"KKOT_TRAIN_OUTPUT_DIR": str(tmp_path / "output")},
        "--data",
        str(tmp_path),
        "--hyperparameters",
        str(hyperparameters),
    )
    assert result.returncode == 1
    assert "epochs" in (tmp_path / "output" / "failure").read_text()
