"""The trained classifier as the artifact's model.onnx, and the check that the exported
graph still is the head that was trained and cross-validated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.model.prepare import export_onnx
from services.model.train.crossval import softmax
from services.model.train.dataset import Example
from services.model.train.errors import TrainingError
from services.model.train.evaluate import predict_onnx
from services.model.train.head import TrainedHead
from shared.contracts.model import Preprocessing
from shared.logging import get_logger

__all__ = ["EXPORT_TOLERANCE", "check_export", "export_classifier", "smoke_candidates"]

_log = get_logger("kkot.train")

# How far the exported graph may drift from the trained head (float32 softmax).
EXPORT_TOLERANCE = 1e-3


def export_classifier(
    backbone: Any, head: TrainedHead, path: Path, image_size: int, *, tta: bool = False
) -> None:
    """Write backbone -> head -> softmax as one verified ONNX graph at `path`.

    With `tta` the graph runs the backbone on the image and its mirror image (one batch
    of twice the size) and gives the head the mean of the two embeddings — for a linear
    head the same as averaging the two logits.
    """
    import torch  # only the training image has torch; importing this module stays cheap

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            self.head = head.torch_module()

        def forward(self, x: Any) -> Any:
            if not tta:
                return self.head(self.backbone(x))
            both = self.backbone(torch.cat([x, torch.flip(x, dims=[3])]))
            count = x.shape[0]
            return self.head((both[:count] + both[count:]) * 0.5)

    export_onnx(Classifier().eval(), path, image_size)


def smoke_candidates(
    examples: list[Example],
    held_out: npt.NDArray[np.float32],
    labels: list[str],
    per_class: int,
) -> list[int]:
    """Per class, the rows of `examples` cross-validation classified right with the
    highest confidence (at most `per_class` of them): the smoke set is chosen from these."""
    chosen: list[int] = []
    for column, label in enumerate(labels):
        rows = [
            i
            for i, ex in enumerate(examples)
            if ex.label == label and int(held_out[i].argmax()) == column
        ]
        rows.sort(key=lambda i: (-float(held_out[i, column]), examples[i].relpath))
        chosen.extend(rows[:per_class])
    return chosen


def check_export(
    model: Path,
    head: TrainedHead,
    examples: list[Example],
    embeddings: npt.NDArray[np.float32],
    preprocessing: Preprocessing,
    *,
    batch_size: int,
) -> npt.NDArray[np.float32]:
    """Run the exported `model` on `examples` and compare it with `head` on their
    `embeddings`; return the exported model's probabilities.

    Raises TrainingError when the two disagree by more than EXPORT_TOLERANCE.
    """
    exported = predict_onnx(
        model, [ex.path for ex in examples], preprocessing, batch_size=batch_size
    )
    expected = softmax(head.logits(embeddings))
    drift = float(np.abs(exported - expected).max()) if examples else 0.0
    if drift > EXPORT_TOLERANCE:
        raise TrainingError(
            f"the exported model disagrees with the trained head by {drift:.2e} "
            f"(tolerance {EXPORT_TOLERANCE:.0e}) on {len(examples)} images"
        )
    _log.info("export_checked", images=len(examples), max_probability_difference=drift)
    return exported
