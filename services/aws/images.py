"""The stage's container images: check that the tags to deploy exist in ECR, and
optionally build and push them with Docker.

Images are tagged with a commit id, never `latest`, and the repositories have immutable
tags: an image already pushed under a tag is never pushed again. Building needs Docker
and the project's Dockerfiles (run from the repository root); the ECR login uses
GetAuthorizationToken, as `aws ecr get-login-password` does.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from services.aws.console import Report
from services.aws.errors import AwsCommandError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

__all__ = [
    "IMAGES",
    "ImageBuild",
    "build_and_push",
    "head_commit",
    "missing_images",
    "repository_name",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ImageBuild:
    """One image: its repository suffix, Dockerfile, build target and tag suffix."""

    repository: str
    dockerfile: str
    target: str | None = None
    tag_suffix: str = ""


# What the stage deploys (gateway, web, WAS, the model server) plus the training image
# the SageMaker pipeline runs (`<tag>-train`, as ci/buildspec-model.yml pushes it).
IMAGES = (
    ImageBuild("gateway", "services/gateway/Dockerfile"),
    ImageBuild("web", "services/web/Dockerfile"),
    ImageBuild("was", "services/was/Dockerfile"),
    ImageBuild("model", "services/model/Dockerfile", target="serve"),
    ImageBuild("model", "services/model/Dockerfile", target="train", tag_suffix="-train"),
)


def repository_name(stage: str, image: str) -> str:
    """The stage's ECR repository of `image` (the data-and-events stack names it so)."""
    return f"kkot-{stage}-{image}"


def missing_images(ecr: ECRClient, wanted: Sequence[tuple[str, str]]) -> list[str]:
    """`repository:tag` of each (repository, tag) in `wanted` that ECR does not hold."""
    missing = []
    for repository, tag in wanted:
        try:
            ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("ImageNotFoundException", "RepositoryNotFoundException"):
                raise
            missing.append(f"{repository}:{tag}")
    return missing


def head_commit() -> str:
    """The commit checked out in the project (the tag a build gets)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise AwsCommandError("cannot read the commit id: pass --image-tag") from exc
    return result.stdout.strip()


def build_and_push(ecr: ECRClient, stage: str, tag: str, report: Report) -> None:
    """Build every image of IMAGES from the project's Dockerfiles and push the ones the
    stage's repositories do not have yet."""
    docker = shutil.which("docker")
    if docker is None:
        raise AwsCommandError(
            "--build-images needs docker on PATH; or push the images yourself and pass --image-tag"
        )
    registry = _login(ecr, docker)
    for image in IMAGES:
        repository = repository_name(stage, image.repository)
        full_tag = tag + image.tag_suffix
        if not missing_images(ecr, [(repository, full_tag)]):
            report(f"image {repository}:{full_tag}: already pushed")
            continue
        uri = f"{registry}/{repository}:{full_tag}"
        command = [docker, "build", "--file", image.dockerfile, "--tag", uri]
        if image.target:
            command += ["--target", image.target]
        report(f"image {repository}:{full_tag}: building")
        _run([*command, "."])
        report(f"image {repository}:{full_tag}: pushing")
        _run([docker, "push", uri])


def _login(ecr: ECRClient, docker: str) -> str:
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    registry = data["proxyEndpoint"].removeprefix("https://")
    _run([docker, "login", "--username", user, "--password-stdin", registry], stdin=password)
    return registry


def _run(command: list[str], stdin: str | None = None) -> None:
    result = subprocess.run(command, cwd=PROJECT_ROOT, input=stdin, text=True, check=False)
    if result.returncode != 0:
        raise AwsCommandError(f"`{' '.join(command[:3])} ...` failed (exit {result.returncode})")
