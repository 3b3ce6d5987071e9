"""The backbones a model can be trained on: packaged weights, their own input size, and
the same embeddings through ONNX Runtime (CPU) and through torch (the GPU path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from services.model.imaging import load_image_file, preprocess
from services.model.train.backbones import BACKBONES, backbone_spec
from services.model.train.embed import (
    backbone_module,
    embed_images,
    embed_images_torch,
    export_backbone,
    training_device,
)
from services.model.train.errors import HyperparameterError
from services.model.train.hyperparameters import Hyperparameters, parse_hyperparameters
from services.model.train.job import run_training
from services.model.train.settings import TrainSettings
from services.model.train.smoke_set import load_smoke_set
from shared.contracts.model import LabelList, ModelMetadata


def test_each_backbone_names_its_input_size_and_weights_package() -> None:
    assert backbone_spec("lite0").preprocessing.image_size == 224
    assert backbone_spec("lite2").preprocessing.image_size == 260
    # EfficientNet's evaluation recipe: the crop is 32 px smaller than the short side.
    for spec in BACKBONES.values():
        assert spec.preprocessing.resize_size == spec.preprocessing.image_size + 32
        assert spec.weights_package.startswith(f"efficientnet-{spec.name}-")
    with pytest.raises(KeyError, match="known: lite0, lite2"):
        backbone_spec("resnet50")


def test_backbone_and_tta_are_hyperparameters_from_sagemaker_strings() -> None:
    hp = parse_hyperparameters({"backbone": "lite2", "tta": "true"})
    assert (hp.backbone, hp.tta) == ("lite2", True)
    assert hp.as_metadata()["backbone"] == "lite2"
    with pytest.raises(HyperparameterError, match="backbone"):
        parse_hyperparameters({"backbone": "lite9"})


@pytest.mark.dataset
@pytest.mark.slow
def test_lite2_embeds_the_same_through_onnx_runtime_and_torch(
    flowers_dir: Path, tmp_path: Path
) -> None:
    assert training_device() == "cpu"  # this machine has no GPU; SageMaker's may
    spec = backbone_spec("lite2")
    photos = sorted((flowers_dir / "bellflower").glob("*.jpg"))[:3]
    module = backbone_module("lite2")
    export_backbone(module, tmp_path / "lite2.onnx", spec.preprocessing.image_size)
    by_onnx = embed_images(tmp_path / "lite2.onnx", photos, spec.preprocessing, flip=True)
    by_torch = embed_images_torch(
        module, photos, spec.preprocessing, device="cpu", batch_size=2, flip=True
    )
    assert by_onnx.shape == by_torch.shape == (6, spec.embedding_size)
    assert float(np.abs(by_onnx - by_torch).max()) < 1e-3
    # The mirror image is another input, not a copy of the row.
    assert float(np.abs(by_onnx[0] - by_onnx[3]).max()) > 1e-2


@pytest.mark.dataset
@pytest.mark.slow
def test_a_lite2_model_with_mirror_averaging_carries_its_input_size_to_the_server(
    small_flowers: Path, tmp_path: Path
) -> None:
    settings = TrainSettings(
        data_dir=small_flowers, model_dir=tmp_path / "model", output_dir=tmp_path / "out"
    )
    hp = Hyperparameters(backbone="lite2", tta=True, epochs=60, smoke_images_per_class=1)
    # The job checks the exported graph (backbone on the photo and its mirror image,
    # mean embedding, head) against the cross-validated computation on the smoke
    # candidates, through the server's preprocessing; it raises when they differ.
    result = run_training(settings, hp, progress_every=10_000)
    metadata = ModelMetadata.model_validate_json((tmp_path / "model/metadata.json").read_bytes())
    assert metadata.preprocessing == backbone_spec("lite2").preprocessing
    assert metadata.hyperparameters["backbone"] == "lite2"
    assert metadata.hyperparameters["tta"] is True
    assert "efficientnet-lite2" in metadata.source and "mirror" in metadata.source
    assert result.evaluation.method == "grouped 5-fold cross-validation"

    # What the server does: decode with the metadata's preprocessing, run model.onnx.
    session = ort.InferenceSession(str(tmp_path / "model/model.onnx"))
    assert session.get_inputs()[0].shape[1:] == [3, 260, 260]
    smoke = load_smoke_set(tmp_path / "model")
    assert smoke is not None and smoke.cases
    labels = LabelList.model_validate_json((tmp_path / "model/labels.json").read_bytes()).labels
    for case in smoke.cases:
        image = load_image_file(tmp_path / "model" / case.file)
        (probabilities,) = session.run(
            ["probabilities"], {"input": preprocess(image, metadata.preprocessing)[None]}
        )
        assert labels[int(np.argmax(probabilities))] == case.label
