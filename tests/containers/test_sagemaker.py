"""The model image as SageMaker runs it (issue 9, defect 4; issue 11, defect 4):
`IMAGE train` with the training job's /opt/ml layout owned by root, `IMAGE evaluate` as
the pipeline's processing step, `IMAGE serve` behind /ping and /invocations, and the
failure file written when the input is bad."""

from __future__ import annotations

import json
import shutil
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

from shared.contracts.model import EVALUATION_FILE, Evaluation
from shared.contracts.prediction import Prediction
from tests.containers.conftest import built
from tests.containers.docker import free_port, run, wait_http

pytestmark = [pytest.mark.containers, pytest.mark.usefixtures("engine")]

# Small and quick: one hold-out split, few L-BFGS steps, SageMaker's all-strings format.
_HYPERPARAMETERS = {
    "epochs": "40",
    "cv_folds": "0",
    "min_images_per_class": "4",
    "smoke_images_per_class": "1",
    "embed_batch_size": "8",
}


def _opt_ml(root: Path, train_channel: Path | None, hyperparameters: dict[str, str]) -> Path:
    """SageMaker's training layout under `root`, every folder owned by root, mode 0755
    (as SageMaker mounts them: only root may write)."""
    ml = root / "ml"
    data = ml / "input" / "data" / "train"
    data.parent.mkdir(parents=True)
    if train_channel is not None:
        shutil.copytree(train_channel, data)
    else:
        data.mkdir()
    config = ml / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (ml / "model").mkdir()
    (ml / "output").mkdir()
    for path in [ml, *ml.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
        assert path.stat().st_uid == 0, f"{path} must be root's, as SageMaker mounts it"
    return ml


def _train(ml: Path) -> tuple[int, str, float]:
    image = built("model-train")
    started = time.monotonic()
    result = run(
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        f"{ml}:/opt/ml",
        image.local_tag,
        "train",
        timeout=900,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, training_images: Path) -> Path:
    """/opt/ml after a successful `IMAGE train` (no network, as EnableNetworkIsolation)."""
    ml = _opt_ml(tmp_path_factory.mktemp("sagemaker-train"), training_images, _HYPERPARAMETERS)
    code, output, _ = _train(ml)
    assert code == 0, output[-4000:]
    assert not (ml / "output" / "failure").exists()
    return ml


def test_train_writes_the_artifact_into_root_owned_mounts(trained: Path) -> None:
    model = trained / "model"
    assert (model / "model.onnx").stat().st_size > 1_000_000
    labels = json.loads((model / "labels.json").read_text())["labels"]
    assert len(labels) == 3
    evaluation = Evaluation.model_validate_json((model / EVALUATION_FILE).read_text())
    assert 0 <= evaluation.accuracy <= 1 and evaluation.samples > 0
    assert (trained / "output" / "data").is_dir()  # the PermissionError of uid 10001


def test_train_on_a_bad_input_writes_the_failure_file(tmp_path: Path) -> None:
    ml = _opt_ml(tmp_path, None, _HYPERPARAMETERS)  # an empty train channel
    code, output, _ = _train(ml)
    assert code == 1, output[-4000:]
    reason = (ml / "output" / "failure").read_text()
    assert reason and "Traceback" not in reason
    assert not (ml / "model" / "model.onnx").exists()


def test_train_with_bad_hyperparameters_writes_the_failure_file(
    tmp_path: Path, training_images: Path
) -> None:
    ml = _opt_ml(tmp_path, training_images, {"epochs": "many"})
    code, output, _ = _train(ml)
    assert code == 1, output[-4000:]
    assert "epochs" in (ml / "output" / "failure").read_text()


def test_evaluate_publishes_the_trained_artifacts_evaluation(trained: Path, tmp_path: Path) -> None:
    # The pipeline's processing step gets model.tar.gz (SageMaker packs /opt/ml/model).
    processing = tmp_path / "processing"
    (processing / "model").mkdir(parents=True)
    (processing / "evaluation").mkdir()
    with tarfile.open(processing / "model" / "model.tar.gz", "w:gz") as tar:
        for path in sorted((trained / "model").iterdir()):
            tar.add(path, arcname=path.name)
    result = run(
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        f"{processing}:/opt/ml/processing",
        built("model").local_tag,
        "evaluate",
        timeout=300,
    )
    published = Evaluation.model_validate_json(
        (processing / "evaluation" / EVALUATION_FILE).read_text()
    )
    expected = Evaluation.model_validate_json((trained / "model" / EVALUATION_FILE).read_text())
    assert published == expected, result.stdout


def test_serve_answers_ping_and_invocations_from_a_root_owned_model(
    trained: Path, photos: list[Path]
) -> None:
    model = trained / "model"
    model.chmod(0o700)  # root's alone, like SageMaker's mount: only root may even list it
    port = free_port()
    container = run(
        "run",
        "-d",
        "--rm",
        "-p",
        f"127.0.0.1:{port}:8080",
        "-v",
        f"{model}:/opt/ml/model:ro",
        built("model").local_tag,
        "serve",
    ).stdout.strip()
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", 120)
        labels = json.loads((model / "labels.json").read_text())["labels"]
        for photo in photos:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/invocations",
                data=photo.read_bytes(),
                headers={"Content-Type": "image/jpeg", "Accept": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                prediction = Prediction.model_validate_json(response.read())
            assert prediction.top_k[0].label in labels
    finally:
        run("stop", "--time", "10", container, check=False)
