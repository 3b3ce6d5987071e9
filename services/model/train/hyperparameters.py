"""Training hyperparameters.

SageMaker writes /opt/ml/input/config/hyperparameters.json with every value as a
string ({"epochs": "300"}); pydantic's lax mode turns them into the typed fields below.
Keys SageMaker adds itself (`sagemaker_*`) are ignored; any other unknown key is an
error, so a typo does not silently train with the default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.model.train.backbones import BackboneName
from services.model.train.errors import HyperparameterError

__all__ = ["DEFAULT_BACKBONE", "DEFAULT_TTA", "Hyperparameters", "load_hyperparameters"]

# The measured defaults: bench/compare_models.py, the table in the README.
DEFAULT_BACKBONE: BackboneName = "lite0"
DEFAULT_TTA = True


class Hyperparameters(BaseModel):
    """What a training run may be tuned with; every field has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(
        200, ge=1, le=100_000, description="L-BFGS iterations (full batch) or AdamW epochs"
    )
    l2_penalty: float = Field(0.03, ge=0, le=10, description="L2 on the head (L-BFGS)")
    learning_rate: float = Field(0.01, gt=0, le=10, description="AdamW (mini-batch) only")
    weight_decay: float = Field(1e-4, ge=0, le=1, description="AdamW (mini-batch) only")
    batch_size: int = Field(0, ge=0, description="head mini-batch size; 0 = full-batch L-BFGS")
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    seed: int = Field(42, ge=0)
    cv_folds: int = Field(
        5,
        ge=0,
        le=20,
        description=(
            "evaluate by stratified k-fold cross-validation (every image held out once) and "
            "ship a head trained on all images; 0 = one hold-out split of validation_fraction"
        ),
    )
    validation_fraction: float = Field(0.2, gt=0, lt=1, description="hold-out (cv_folds=0)")
    min_images_per_class: int = Field(10, ge=1)
    flip_augment: bool = Field(True, description="also train on horizontally flipped images")
    backbone: BackboneName = Field(
        DEFAULT_BACKBONE,
        description="frozen ImageNet backbone: lite0 (224 px) or lite2 (260 px, more accurate, "
        "about twice the compute); the artifact's preprocessing follows it",
    )
    tta: bool = Field(
        DEFAULT_TTA,
        description="test-time augmentation: the served graph averages the embeddings of the "
        "image and its mirror image (twice the inference per request)",
    )
    embed_batch_size: int = Field(8, ge=1, le=256)
    smoke_images_per_class: int = Field(2, ge=0, le=20)
    model_name: str = Field("kkot-flowers", min_length=1, max_length=63)

    @field_validator("cv_folds")
    @classmethod
    def _not_one_fold(cls, value: int) -> int:
        if value == 1:
            raise ValueError("cv_folds must be 0 (one hold-out split) or at least 2")
        return value

    def as_metadata(self) -> dict[str, str | int | float | bool]:
        """The values as ModelMetadata.hyperparameters (plain scalars)."""
        return dict(self.model_dump())

    def with_overrides(self, **values: Any) -> Hyperparameters:
        """A copy with the non-None `values` applied (CLI flags over the file)."""
        chosen = {k: v for k, v in values.items() if v is not None}
        return parse_hyperparameters({**self.model_dump(), **chosen})


def parse_hyperparameters(raw: dict[str, Any]) -> Hyperparameters:
    """Parse a mapping of (possibly string) values; raise HyperparameterError on bad input."""
    values = {k: v for k, v in raw.items() if not str(k).startswith("sagemaker_")}
    try:
        return Hyperparameters.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'hyperparameters'}: {err['msg']}"
            for err in exc.errors()
        )
        raise HyperparameterError(f"invalid hyperparameters: {problems}") from exc


def load_hyperparameters(path: Path | None) -> Hyperparameters:
    """Read hyperparameters.json (absent file -> defaults)."""
    if path is None or not path.exists():
        return Hyperparameters()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HyperparameterError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise HyperparameterError(f"{path} must hold a JSON object")
    return parse_hyperparameters(raw)
