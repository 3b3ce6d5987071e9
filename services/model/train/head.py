"""The classification head: a linear layer trained on frozen embeddings (torch).

Embeddings are standardised for the optimiser and the scaling is folded back into the
layer afterwards, so the exported graph is just backbone -> Linear -> softmax.

Default: full-batch L-BFGS on cross-entropy (with label smoothing) plus an explicit L2
penalty — softmax regression solved to convergence. On the flowers data this beat AdamW
with decoupled weight decay on held-out accuracy (AdamW overfits the training set); an
MLP head or extra pooled features from earlier blocks did not help beyond noise (README
"The ML pipeline" has the figures). `batch_size > 0` switches to mini-batch AdamW.
Deterministic for a seed: fixed initialisation, deterministic kernels, a seeded
mini-batch order, and a fixed thread count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from services.model.train.hyperparameters import Hyperparameters

__all__ = ["TrainedHead", "train_head"]


@dataclass(frozen=True)
class TrainedHead:
    """The head's weights (on raw embeddings) and how training ended."""

    weight: npt.NDArray[np.float32]  # [classes, 1280]
    bias: npt.NDArray[np.float32]  # [classes]
    final_loss: float
    train_accuracy: float

    def logits(self, embeddings: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(embeddings @ self.weight.T + self.bias, dtype=np.float32)

    def torch_module(self) -> Any:
        """The head as a torch.nn.Linear (for export)."""
        import torch

        layer = torch.nn.Linear(self.weight.shape[1], self.weight.shape[0])
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(self.weight))
            layer.bias.copy_(torch.from_numpy(self.bias))
        return layer.eval()


def train_head(
    embeddings: npt.NDArray[np.float32],
    targets: npt.NDArray[np.int64],
    num_classes: int,
    hp: Hyperparameters,
) -> TrainedHead:
    """Fit softmax regression (L-BFGS + L2 by default; AdamW with `batch_size`)."""
    import torch

    torch.manual_seed(hp.seed)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        x = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
        y = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.int64))
        mean = x.mean(dim=0)
        std = x.std(dim=0).clamp_min(1e-6)
        xs = (x - mean) / std
        layer = torch.nn.Linear(x.shape[1], num_classes)
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=hp.label_smoothing)
        n = x.shape[0]
        if 0 < hp.batch_size < n:
            loss = _adamw(layer, xs, y, loss_fn, hp)
        else:
            loss = _lbfgs(layer, xs, y, loss_fn, hp)
        with torch.no_grad():
            # Fold the standardisation into the layer: W' = W / std, b' = b - W' . mean.
            weight = layer.weight / std
            bias = layer.bias - weight @ mean
            accuracy = float((layer(xs).argmax(dim=1) == y).float().mean())
        return TrainedHead(
            weight=weight.numpy().astype(np.float32),
            bias=bias.numpy().astype(np.float32),
            final_loss=float(loss.detach()),
            train_accuracy=accuracy,
        )
    finally:
        torch.use_deterministic_algorithms(previous)


def _lbfgs(layer: Any, xs: Any, y: Any, loss_fn: Any, hp: Hyperparameters) -> Any:
    import torch

    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
    optimiser = torch.optim.LBFGS(
        layer.parameters(),
        lr=1.0,
        max_iter=hp.epochs,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Any:
        optimiser.zero_grad()
        loss = loss_fn(layer(xs), y) + hp.l2_penalty * (layer.weight**2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]
    return closure().detach()


def _adamw(layer: Any, xs: Any, y: Any, loss_fn: Any, hp: Hyperparameters) -> Any:
    import torch

    optimiser = torch.optim.AdamW(
        layer.parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay
    )
    generator = torch.Generator().manual_seed(hp.seed)
    n = xs.shape[0]
    loss = torch.tensor(0.0)
    for _ in range(hp.epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, hp.batch_size):
            idx = order[start : start + hp.batch_size]
            optimiser.zero_grad()
            loss = loss_fn(layer(xs[idx]), y[idx])
            loss.backward()
            optimiser.step()
    return loss.detach()
