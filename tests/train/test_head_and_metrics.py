"""The head is deterministic for a seed; metrics and the plot are right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.model.train.evaluate import metrics, plot_confusion_matrix
from services.model.train.head import train_head
from services.model.train.hyperparameters import Hyperparameters


def _embeddings(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 1280)).astype(np.float32)
    targets = np.repeat(np.arange(3), 20)
    x = centres[targets] + rng.normal(scale=2.0, size=(60, 1280)).astype(np.float32)
    return x.astype(np.float32), targets.astype(np.int64)


@pytest.mark.parametrize("batch_size", [0, 16])
def test_same_seed_gives_identical_weights(batch_size: int) -> None:
    x, y = _embeddings(0)
    hp = Hyperparameters(epochs=30, seed=11, batch_size=batch_size)
    first = train_head(x, y, 3, hp)
    second = train_head(x, y, 3, hp)
    assert np.array_equal(first.weight, second.weight)
    assert np.array_equal(first.bias, second.bias)
    assert np.array_equal(first.logits(x), second.logits(x))
    assert first.train_accuracy > 0.9


def test_minibatch_order_depends_on_the_seed() -> None:
    x, y = _embeddings(0)
    a = train_head(x, y, 3, Hyperparameters(epochs=5, seed=1, batch_size=8))
    b = train_head(x, y, 3, Hyperparameters(epochs=5, seed=2, batch_size=8))
    assert not np.array_equal(a.weight, b.weight)


def test_folded_standardisation_matches_raw_embeddings() -> None:
    x, y = _embeddings(1)
    head = train_head(x, y, 3, Hyperparameters(epochs=50))
    module = head.torch_module()
    import torch

    with torch.no_grad():
        torch_logits = module(torch.from_numpy(x)).numpy()
    assert np.allclose(torch_logits, head.logits(x), atol=1e-4)


def test_metrics_per_class_and_confusion(tmp_path: Path) -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "b", "a"]
    evaluation = metrics(truth, predicted, ["a", "b", "c"])
    assert evaluation.accuracy == pytest.approx(4 / 6)
    assert evaluation.confusion_matrix == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert evaluation.per_class["a"].precision == pytest.approx(2 / 3)
    assert evaluation.per_class["a"].recall == pytest.approx(2 / 3)
    assert evaluation.per_class["b"].precision == pytest.approx(2 / 3)
    assert evaluation.per_class["b"].recall == 1.0
    assert evaluation.per_class["c"].f1 == 0.0
    plot_confusion_matrix(evaluation, tmp_path / "cm.png", "test")
    assert (tmp_path / "cm.png").read_bytes().startswith(b"\x89PNG")
