"""`<image> evaluate`: the pipeline's Evaluate step (a SageMaker processing job).

It reads the artifact's held-out evaluation (`shared.contracts.model.Evaluation`, written
by the training job into model.tar.gz) and publishes it as the property file the
pipeline's accuracy condition reads:

    /opt/ml/processing/model/model.tar.gz           in  (KKOT_EVALUATE_MODEL_DIR)
    /opt/ml/processing/evaluation/evaluation.json   out (KKOT_EVALUATE_OUT_DIR)
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from shared.contracts.model import EVALUATION_FILE, Evaluation

__all__ = ["EvaluationMissing", "default_dirs", "publish_evaluation"]

_PROCESSING = Path("/opt/ml/processing")


class EvaluationMissing(RuntimeError):
    """The artifact holds no readable evaluation record."""


def default_dirs() -> tuple[Path, Path]:
    """(model dir, output dir): SageMaker's processing paths unless overridden by env."""
    model_dir = os.environ.get("KKOT_EVALUATE_MODEL_DIR", str(_PROCESSING / "model"))
    out_dir = os.environ.get("KKOT_EVALUATE_OUT_DIR", str(_PROCESSING / "evaluation"))
    return Path(model_dir), Path(out_dir)


def _read_evaluation(archive: Path) -> Evaluation:
    # Only the one member is read: nothing from the archive is written to disk.
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and Path(member.name).name == EVALUATION_FILE:
                extracted = tar.extractfile(member)
                if extracted is not None:
                    return Evaluation.model_validate_json(extracted.read())
    raise EvaluationMissing(f"{archive} holds no {EVALUATION_FILE}")


def publish_evaluation(model_dir: Path, out_dir: Path) -> Evaluation:
    """Copy the artifact's evaluation into `out_dir`; EvaluationMissing if it has none."""
    archive = model_dir / "model.tar.gz"
    if not archive.is_file():
        raise EvaluationMissing(f"no model.tar.gz in {model_dir}")
    evaluation = _read_evaluation(archive)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / EVALUATION_FILE).write_text(evaluation.model_dump_json(), encoding="utf-8")
    return evaluation
