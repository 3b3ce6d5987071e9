"""The head is deterministic for a seed; metrics and the plot are right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.model.train.crossval import out_of_fold_probabilities
from services.model.train.dataset import Example
from services.model.train.evaluate import (
    metrics,
    misclassified,
    plot_confusion_matrix,
    wilson_interval,
)
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


def test_out_of_fold_rows_come_from_heads_that_never_saw_them() -> None:
    # Random labels and one private feature per image: a head that saw an image can
    # memorise it, one that did not can only guess. Flipped copies (the second half)
    # carry the same private feature, so they must leave with their image too.
    n = 60
    rng = np.random.default_rng(3)
    targets = rng.integers(0, 2, size=n).astype(np.int64)
    private = np.eye(n, dtype=np.float32) * 10
    x = np.concatenate([private, private]).astype(np.float32)
    y = np.concatenate([targets, targets])
    hp = Hyperparameters(epochs=100, l2_penalty=0.0, label_smoothing=0.0)
    folds = [i % 5 for i in range(n)]
    seen = train_head(x, y, 2, hp)
    assert seen.train_accuracy == 1.0
    held_out = out_of_fold_probabilities(x, y, folds, 2, hp)
    assert held_out.shape == (n, 2)
    assert np.allclose(held_out.sum(axis=1), 1.0, atol=1e-5)
    assert (held_out.argmax(axis=1) == targets).mean() < 0.8


def test_accuracy_comes_with_a_wilson_interval() -> None:
    low, high = wilson_interval(95, 100)
    assert low == pytest.approx(0.8882, abs=1e-4) and high == pytest.approx(0.9785, abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(10, 10)[0] < 1.0
    evaluation = metrics(["a", "b"], ["a", "a"], ["a", "b"], method="hold-out split")
    assert evaluation.method == "hold-out split"
    assert evaluation.accuracy_ci95 == wilson_interval(1, 2)


def test_misclassified_lists_the_confident_mistakes_first() -> None:
    examples = [
        Example(path=Path(f"/d/{name}"), relpath=name, label=label, sha256=name)
        for name, label in [("a/1.jpg", "a"), ("a/2.jpg", "a"), ("b/1.jpg", "b"), ("b/2.jpg", "b")]
    ]
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.05, 0.95], [0.8, 0.2]], dtype=np.float32)
    wrong = misclassified(examples, probabilities, ["a", "b"], "hold-out split")
    assert [(w.path, w.predicted) for w in wrong.images] == [("b/2.jpg", "a"), ("a/2.jpg", "b")]
    assert wrong.images[0].confidence == pytest.approx(0.8)
    assert wrong.images[0].label_probability == pytest.approx(0.2)
    assert wrong.method == "hold-out split"
