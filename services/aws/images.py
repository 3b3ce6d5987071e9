"""The stage's container images: check that the tags to deploy exist in ECR, and
optionally build and push them with Docker.

Images are tagged with a commit id, never `latest`, and the repositories have immutable
tags: an image already pushed under a tag is never pushed again. Building and pushing is
the release pipeline's own step (services.ci.images.push_images, `kkot ci push-images`),
run here for one stage from the project's Dockerfiles (run it from the repository root).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from services.aws.console import Report
from services.aws.errors import AwsCommandError
from services.ci.errors import CiError
from services.ci.images import IMAGES, TAG_PATTERN, Docker, push_images
from services.ci.images import repository_name as ci_repository_name

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

__all__ = [
    "TAG_PATTERN",
    "build_and_push",
    "head_commit",
    "missing_images",
    "repository_name",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def repository_name(stage: str, image: str) -> str:
    """The stage's ECR repository of `image` (gateway, web, was, model)."""
    return ci_repository_name(stage, IMAGES[image])


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
    """Build every image the stage and its model pipeline use (gateway, web, WAS, the
    model's serve and train images) and push those the stage's repositories lack."""
    try:
        # Docker resolves the Dockerfiles and the context from the working directory:
        # the repository root, where the README runs every command.
        pushed = push_images(ecr, Docker(), list(IMAGES), tag, [stage])
    except CiError as exc:
        raise AwsCommandError(f"--build-images: {exc}") from exc
    for image in pushed:
        report(f"image {image.uri}: {'pushed' if image.pushed else 'already pushed'}")
