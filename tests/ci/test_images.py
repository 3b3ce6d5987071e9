"""`kkot ci push-images` against moto's ECR: each image is built once, pushed only to the
stages that lack its tag, and the ECS deploy actions find the imagedefinitions they read
(docker itself runs with --dry-run: the commands are recorded, not executed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from cfn.naming import STAGES
from cfn.render import render
from cfn.stacks.delivery import build_delivery
from services.ci.images import IMAGES, repository_name
from services.cli import main

TAG = "0123456789abcdef0123456789abcdef01234567"
APP = ("gateway", "web", "was")


def push(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["ci", "push-images", "--dry-run", *args])
    out = capsys.readouterr().out
    return code, (json.loads(out) if code == 0 else {})


def put_image(repository: str, tag: str) -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": "sha256:" + "0" * 64},
        "layers": [],
    }
    boto3.client("ecr").put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
    )


def test_builds_each_image_once_and_pushes_it_to_every_stage(
    repositories: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stages = " ".join(STAGES)
    code, result = push(
        capsys,
        "--tag",
        TAG,
        "--stages",
        stages,
        "--images",
        " ".join(APP),
        "--imagedefinitions",
        str(tmp_path),
    )
    assert code == 0
    docker = result["docker"]
    builds = [c for c in docker if c[0] == "build"]
    assert [c[c.index("--file") + 1] for c in builds] == [f"services/{s}/Dockerfile" for s in APP]
    assert sum(c[0] == "login" for c in docker) == 1
    pushed = [c[1] for c in docker if c[0] == "push"]
    expected = [f"{repositories[f'kkot-{st}-{s}']}:{TAG}" for s in APP for st in STAGES]
    assert pushed == expected
    # Every push is of an image tagged from the one local build.
    assert [c[2] for c in docker if c[0] == "tag"] == expected
    assert all(p["pushed"] for p in result["images"])

    # The files the release pipeline's ECS deploy actions read, with the pushed URIs.
    delivery = json.loads(render(build_delivery(), "json"))
    read = {
        action["Configuration"]["FileName"]: action["Configuration"]["ServiceName"]
        for stage in delivery["Resources"]["ReleasePipeline"]["Properties"]["Stages"]
        for action in stage["Actions"]
        if action.get("ActionTypeId", {}).get("Provider") == "ECS"
    }
    assert {p.name for p in tmp_path.iterdir()} == set(read)
    for name in read:
        ((entry,),) = [json.loads((tmp_path / name).read_text(encoding="utf-8"))]
        _, stage, svc = name.removesuffix(".json").split("-")
        assert entry == {"name": svc, "imageUri": f"{repositories[f'kkot-{stage}-{svc}']}:{TAG}"}


def test_a_rerun_pushes_only_what_a_stage_lacks(
    repositories: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Tags are immutable: pushing one that is there would fail the build.
    staging, production = STAGES
    put_image(f"kkot-{staging}-model", TAG)
    for stage in STAGES:
        put_image(f"kkot-{stage}-model", TAG + "-train")
    code, result = push(
        capsys, "--tag", TAG, "--stages", " ".join(STAGES), "--images", "model model-train"
    )
    assert code == 0
    docker = result["docker"]
    # The serving image is built (production lacks it) with its target; the training
    # image is neither built nor pushed.
    (build,) = [c for c in docker if c[0] == "build"]
    assert build[build.index("--target") + 1] == IMAGES["model"].target
    assert [c[1] for c in docker if c[0] == "push"] == [
        f"{repositories[f'kkot-{production}-model']}:{TAG}"
    ]
    state = {(p["image"], p["stage"]): p["pushed"] for p in result["images"]}
    assert state == {
        ("model", staging): False,
        ("model", production): True,
        ("model-train", staging): False,
        ("model-train", production): False,
    }


def test_nothing_to_push_builds_nothing(
    repositories: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    for stage in STAGES:
        put_image(repository_name(stage, IMAGES["web"]), TAG)
    code, result = push(capsys, "--tag", TAG, "--stages", " ".join(STAGES), "--images", "web")
    assert code == 0
    assert result["docker"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tag", "latest", "--stages", "staging", "--images", "web"], "not a commit id"),
        (["--tag", TAG, "--stages", "staging", "--images", "nginx"], "unknown images"),
        (["--tag", TAG, "--stages", "qa", "--images", "web"], "ECR repository missing"),
    ],
)
def test_bad_input_fails_with_a_reason(
    repositories: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert main(["ci", "push-images", "--dry-run", *args]) == 1
    assert message in capsys.readouterr().err
