"""The model artifact and the training data as the deploy puts them in a models bucket."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

from cfn.sagemaker_pipeline import pipeline_definition
from services.aws.artifacts import DATASET_PREFIX, dataset_files, pack_model


def test_the_model_is_packed_at_the_archive_root_and_byte_identical_every_time(
    model_dir: Path, tmp_path: Path
) -> None:
    first = pack_model(model_dir)
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)  # new files, new times: same archive
    second = pack_model(copy)
    assert first.data == second.data
    assert first.key == second.key
    with tarfile.open(fileobj=io.BytesIO(first.data), mode="r:gz") as tar:
        names = tar.getnames()
        assert names == sorted(p.name for p in model_dir.iterdir())
        member = tar.extractfile("model.onnx")
        assert member is not None
        assert member.read() == (model_dir / "model.onnx").read_bytes()


def test_the_dataset_prefix_is_where_the_pipeline_reads_its_channels() -> None:
    definition = json.loads(pipeline_definition())
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    for channel, parameter in (("train", "TrainDataUrl"), ("validation", "ValidationDataUrl")):
        assert defaults[parameter] == f"s3://${{ModelsBucket}}/{DATASET_PREFIX}{channel}/"


def test_a_plain_image_folder_is_split_into_both_channels_with_every_class(
    data_dir: Path,
) -> None:
    files = dataset_files(data_dir)
    assert sorted(files.values()) == sorted(p for p in data_dir.rglob("*.jpg"))
    for channel in ("train", "validation"):
        labels = {key.split("/")[1] for key in files if key.startswith(channel + "/")}
        assert labels == {"daisy", "tulip"}
    assert files == dataset_files(data_dir)  # seeded: the same split every time


def test_a_folder_already_split_is_uploaded_as_it_is(data_dir: Path, tmp_path: Path) -> None:
    for channel in ("train", "validation"):
        shutil.copytree(data_dir, tmp_path / channel)
    files = dataset_files(tmp_path)
    assert set(files) == {
        f"{channel}/{p.relative_to(data_dir).as_posix()}"
        for channel in ("train", "validation")
        for p in data_dir.rglob("*.jpg")
    }
