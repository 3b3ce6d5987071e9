"""The smoke set: a few labelled images stored with the artifact.

After every deploy the pipeline sends them through the live endpoint and expects each
label back (see services.pipeline.smoke_check). The training job picks, per class, the
evaluated images (held out, or out of fold under cross-validation) that the exported
model classified right with the highest confidence, so a failure means the served model
or its preprocessing is not the one that was evaluated.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from services.model.train.dataset import Example

__all__ = ["SMOKE_DIR", "SMOKE_FILE", "SmokeCase", "SmokeSet", "load_smoke_set", "write_smoke_set"]

SMOKE_FILE = "smoke_test.json"
SMOKE_DIR = "smoke"


class SmokeCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str = Field(description="path relative to the artifact folder")
    label: str
    content_type: str = "image/jpeg"


class SmokeSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cases: list[SmokeCase]
    min_correct: int = Field(ge=0, description="cases that must come back with their label")


_CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def write_smoke_set(
    artifact_dir: Path,
    examples: list[Example],
    probabilities: npt.NDArray[np.float32],
    labels: list[str],
    per_class: int,
) -> SmokeSet:
    """Copy the chosen images into `artifact_dir/smoke/` and write smoke_test.json."""
    chosen: list[SmokeCase] = []
    (artifact_dir / SMOKE_DIR).mkdir(exist_ok=True)
    for label in labels:
        if label not in {ex.label for ex in examples}:
            continue
        column = labels.index(label)
        candidates = [
            (float(probabilities[i, column]), ex.relpath, i)
            for i, ex in enumerate(examples)
            if ex.label == label and int(probabilities[i].argmax()) == column
        ]
        candidates.sort(key=lambda c: (-c[0], c[1]))
        for rank, (_, _, i) in enumerate(candidates[:per_class]):
            source = examples[i].path
            suffix = source.suffix.lower()
            content_type = _CONTENT_TYPES.get(suffix, "application/x-image")
            name = f"{SMOKE_DIR}/{label}-{rank}{suffix}"
            shutil.copyfile(source, artifact_dir / name)
            chosen.append(SmokeCase(file=name, label=label, content_type=content_type))
    smoke = SmokeSet(cases=chosen, min_correct=len(chosen))
    (artifact_dir / SMOKE_FILE).write_text(smoke.model_dump_json(indent=2), encoding="utf-8")
    return smoke


def load_smoke_set(artifact_dir: Path) -> SmokeSet | None:
    """The artifact's smoke set, or None when it has none (e.g. the ImageNet default)."""
    path = artifact_dir / SMOKE_FILE
    if not path.exists():
        return None
    return SmokeSet.model_validate_json(path.read_bytes())
