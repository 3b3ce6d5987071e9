"""Where a training job reads and writes: SageMaker's paths, each overridable.

SageMaker's training-job contract:

    /opt/ml/input/data/<channel>/               data channels (`train`, optional `validation`,
                                                optional `overrides`: label_overrides.json)
    /opt/ml/input/config/hyperparameters.json   all values strings
    /opt/ml/model/                              the artifact (packed as model.tar.gz)
    /opt/ml/output/failure                      why the job failed (shown by DescribeTrainingJob)
    /opt/ml/output/data/                        other outputs (packed as output.tar.gz)

Environment: `KKOT_TRAIN_<FIELD>`, or SageMaker's own `SM_CHANNEL_TRAIN`,
`SM_CHANNEL_VALIDATION`, `SM_MODEL_DIR`, `SM_OUTPUT_DATA_DIR`; CLI flags win over both.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.review import OVERRIDES_FILE

__all__ = ["TrainSettings"]

_ML = Path("/opt/ml")


class TrainSettings(BaseSettings):
    """Paths of one training job."""

    model_config = SettingsConfigDict(
        env_prefix="KKOT_TRAIN_", extra="ignore", frozen=True, populate_by_name=True
    )

    data_dir: Path = Field(
        _ML / "input" / "data" / "train",
        validation_alias=AliasChoices("KKOT_TRAIN_DATA_DIR", "SM_CHANNEL_TRAIN", "data_dir"),
    )
    eval_dir: Path | None = Field(
        None,
        validation_alias=AliasChoices("KKOT_TRAIN_EVAL_DIR", "SM_CHANNEL_VALIDATION", "eval_dir"),
        description="held-out images; default: the `validation` channel when it exists",
    )
    hyperparameters_file: Path = _ML / "input" / "config" / "hyperparameters.json"
    model_dir: Path = Field(
        _ML / "model",
        validation_alias=AliasChoices("KKOT_TRAIN_MODEL_DIR", "SM_MODEL_DIR", "model_dir"),
    )
    output_dir: Path = Field(_ML / "output", description="failure file goes here")
    output_data_dir: Path | None = Field(
        None,
        validation_alias=AliasChoices(
            "KKOT_TRAIN_OUTPUT_DATA_DIR", "SM_OUTPUT_DATA_DIR", "output_data_dir"
        ),
        description="a copy of the validation report goes here (default output_dir/data)",
    )
    labels_file: Path | None = Field(
        None, description="expected label list (labels.json or one label per line)"
    )
    overrides_file: Path | None = Field(
        None,
        validation_alias=AliasChoices("KKOT_TRAIN_OVERRIDES_FILE", "overrides_file"),
        description="reviewed label overrides; default: the `overrides` channel's file",
    )
    log_level: str = "info"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    def resolved_eval_dir(self) -> Path | None:
        """The explicit eval dir, else a `validation` channel beside the `train` one."""
        if self.eval_dir is not None:
            return self.eval_dir
        sibling = self.data_dir.parent / "validation"
        if self.data_dir.name == "train" and sibling.is_dir():
            return sibling
        return None

    def resolved_overrides_file(self) -> Path | None:
        """The explicit file, else label_overrides.json of an `overrides` channel."""
        if self.overrides_file is not None:
            return self.overrides_file
        channel = self.data_dir.parent / "overrides" / OVERRIDES_FILE
        if self.data_dir.name == "train" and channel.is_file():
            return channel
        return None

    def resolved_output_data_dir(self) -> Path:
        return self.output_data_dir or self.output_dir / "data"
