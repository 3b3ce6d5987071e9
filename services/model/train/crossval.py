"""k-fold cross-validation of the head on embeddings computed once.

The backbone is frozen, so an image's embedding does not depend on which fold it is in:
every image is embedded once and each fold only refits the linear head. The result is a
held-out prediction for every image instead of a fifth of them, which shrinks the spread
of the accuracy figure between seeds (bench/bench_pipeline.py measures both; README
"The ML pipeline" has the figures).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from services.model.train.head import train_head
from services.model.train.hyperparameters import Hyperparameters

__all__ = ["mirror_mean", "out_of_fold_probabilities", "softmax"]


def softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float32)


def out_of_fold_probabilities(
    embeddings: npt.NDArray[np.float32],
    targets: npt.NDArray[np.int64],
    folds: Sequence[int],
    num_classes: int,
    hp: Hyperparameters,
    *,
    mirrors: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]:
    """Probabilities [len(folds), classes]: row i from a head trained without i's fold.

    `embeddings`/`targets` hold the images in `folds` order, possibly followed by extra
    copies in the same order (the flipped images); a copy is left out with its image.
    With `mirrors` (one row per image: test-time augmentation) the held-out image is
    classified as the exported graph does it: the head on the mean of its and its mirror
    image's embeddings.
    """
    fold = np.asarray(folds, dtype=np.int64)
    n = len(fold)
    if n == 0 or embeddings.shape[0] % n:
        raise ValueError("embeddings must hold whole copies of the folded images")
    if mirrors is not None and len(mirrors) != n:
        raise ValueError("one mirror image per folded image")
    row_fold = np.tile(fold, embeddings.shape[0] // n)
    shown = embeddings[:n] if mirrors is None else mirror_mean(embeddings[:n], mirrors)
    held_out = np.zeros((n, num_classes), dtype=np.float32)
    for k in np.unique(fold):
        train_rows = row_fold != k
        rows = np.flatnonzero(fold == k)
        head = train_head(embeddings[train_rows], targets[train_rows], num_classes, hp)
        held_out[rows] = softmax(head.logits(shown[rows]))
    return held_out


def mirror_mean(
    embeddings: npt.NDArray[np.float32], mirrors: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """The mean of each image's embedding and its mirror image's (what a tta graph uses)."""
    return np.asarray((embeddings + mirrors) * np.float32(0.5), dtype=np.float32)
