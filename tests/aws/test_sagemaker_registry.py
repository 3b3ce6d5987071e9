"""The SageMaker Model Registry backend against moto's SageMaker (model package groups,
model packages with approval status, metrics and lineage), through the same registry
interface as the local one and through `kkot models ... --registry sagemaker`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from services.cli import main
from services.pipeline.errors import RegistryError
from services.pipeline.registry import ApprovalStatus, Lineage, SageMakerRegistry
from shared.image_formats import ACCEPTED_MIME_TYPES
from tests.aws.conftest import REGION

GROUP = "kkot-flowers"


def _artifact(path: Path, version: str) -> Path:
    path.mkdir(parents=True)
    (path / "model.onnx").write_bytes(b"onnx stand-in " + version.encode())
    (path / "labels.json").write_text(json.dumps({"labels": ["a", "b"]}))
    return path


@pytest.fixture
def models_bucket(moto_url: str) -> str:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_url)
    name = f"kkot-test-models-{abs(hash(moto_url)) % 10_000}"
    if name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def registry(moto_url: str, models_bucket: str) -> SageMakerRegistry:
    return SageMakerRegistry(
        boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_url),
        boto3.client("s3", region_name=REGION, endpoint_url=moto_url),
        bucket=models_bucket,
    )


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_register_approve_reject_and_list_in_sagemaker(
    registry: SageMakerRegistry,
    tmp_path: Path,
    moto_url: str,
    models_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = registry.register(
        GROUP,
        _artifact(tmp_path / "one", "1"),
        status=ApprovalStatus.PENDING,
        metrics={"accuracy": 0.97, "macro_f1": 0.96},
        lineage=Lineage(dataset_digest="sha256:abc", code_version="deadbeef", parent_version=None),
    )
    second = registry.register(
        GROUP,
        _artifact(tmp_path / "two", "2"),
        status=ApprovalStatus.PENDING,
        metrics={"accuracy": 0.91},
        lineage=Lineage(
            dataset_digest="sha256:def",
            parent_version=first.version,
            overrides_digest="f" * 64,
            overrides_relabelled=1,
            overrides_excluded=0,
        ),
    )
    assert (first.version, second.version) == (1, 2)  # SageMaker's ModelPackageVersion
    assert first.model_dir.startswith(f"s3://{models_bucket}/") and first.model_dir.endswith(
        "model.tar.gz"
    )
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_url)
    bucket, key = first.model_dir.removeprefix("s3://").split("/", 1)
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0

    # The command line, pointed at the same SageMaker (moto) by its settings.
    monkeypatch.setenv("KKOT_PIPELINE_AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("KKOT_PIPELINE_REGION", REGION)
    approved = _run(capsys, "models", "approve", "1", "--registry", "sagemaker")
    assert approved["status"] == "Approved"
    rejected = _run(
        capsys, "models", "reject", "2", "--registry", "sagemaker", "--reason", "worse on roses"
    )
    assert (rejected["status"], rejected["status_reason"]) == ("Rejected", "worse on roses")
    rows = _run(capsys, "models", "ls", "--registry", "sagemaker", "--group", GROUP)
    assert [(r["version"], r["status"], r["accuracy"]) for r in rows] == [
        (1, "Approved", 0.97),
        (2, "Rejected", 0.91),
    ]
    shown = _run(capsys, "models", "show", "1", "--registry", "sagemaker")
    # Approval kept the metrics and the lineage (they live in the package's metadata).
    assert shown["metrics"] == {"accuracy": 0.97, "macro_f1": 0.96}
    assert shown["lineage"]["dataset_digest"] == "sha256:abc"
    assert shown["lineage"]["code_version"] == "deadbeef"
    assert registry.get_version(GROUP, 2).lineage.parent_version == 1
    # The label overrides a version was trained with survive as customer metadata.
    overrides = registry.get_version(GROUP, 2).lineage
    assert (overrides.overrides_digest, overrides.overrides_relabelled) == ("f" * 64, 1)
    assert overrides.overrides_excluded == 0

    with pytest.raises(RegistryError, match="no version 9"):
        registry.get_version(GROUP, 9)
    assert main(["models", "deploy", "1", "--registry", "sagemaker"]) == 1
    assert "kkot release model" in capsys.readouterr().err


def test_a_registered_package_declares_the_media_tables_types(
    registry: SageMakerRegistry, tmp_path: Path, moto_url: str
) -> None:
    version = registry.register(
        "kkot-media",
        _artifact(tmp_path / "m", "1"),
        status=ApprovalStatus.PENDING,
        metrics={"accuracy": 0.9},
        lineage=Lineage(dataset_digest="sha256:m"),
    )
    sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_url)
    packages = sagemaker.list_model_packages(ModelPackageGroupName="kkot-media")
    arn = packages["ModelPackageSummaryList"][0]["ModelPackageArn"]
    spec = sagemaker.describe_model_package(ModelPackageName=arn)["InferenceSpecification"]
    assert version.version == 1
    assert spec["SupportedContentTypes"] == [*ACCEPTED_MIME_TYPES, "application/json"]
