"""Build the project's images once and push them, tagged with the commit, to every
stage's ECR repository; write the imagedefinitions files the ECS deploy actions read.

Tags are immutable in the repositories, so an image already there is skipped (a re-run
of the same commit pushes nothing) and an image no stage lacks is not even built."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.ci.errors import CiError
from services.images import IMAGES as ALL_IMAGES
from services.images import Image

__all__ = [
    "IMAGES",
    "TAG_PATTERN",
    "Docker",
    "Pushed",
    "image_definitions_name",
    "push_images",
    "repository_name",
    "repository_uris",
]

# A commit id, as the stacks' *ImageTag parameters require (never `latest`).
TAG_PATTERN = re.compile(r"^[0-9a-f]{7,40}$")


# The images the pipeline pushes (the emulator is local only), in build order.
IMAGES: dict[str, Image] = {i.name: i for i in ALL_IMAGES if i.repository is not None}


def repository_name(stage: str, spec: Image) -> str:
    """The stage's ECR repository of `spec`, as the data-and-events stack names it."""
    if spec.repository is None:
        raise CiError(f"image {spec.name} is never pushed")
    return f"kkot-{stage}-{spec.repository}"


def image_definitions_name(stage: str, spec: Image) -> str:
    """The file the stage's ECS deploy action of `spec` reads (cfn/stacks/delivery.py)."""
    return f"imagedefinitions-{stage}-{spec.name}.json"


@dataclass
class Docker:
    """Runs docker commands; with `dry_run` it only records them (and prints nothing
    secret: a login's password goes through stdin, never argv)."""

    dry_run: bool = False
    commands: list[list[str]] = field(default_factory=list)

    def run(self, argv: Sequence[str], stdin: str | None = None) -> None:
        self.commands.append(list(argv))
        if self.dry_run:
            return
        try:
            subprocess.run(["docker", *argv], input=stdin, text=True, check=True)
        except FileNotFoundError:
            raise CiError("docker is not installed (CodeBuild: privileged mode)") from None
        except subprocess.CalledProcessError as exc:
            raise CiError(f"docker {argv[0]} failed with exit code {exc.returncode}") from None


@dataclass(frozen=True)
class Pushed:
    """What happened to one image in one stage's repository."""

    image: str
    stage: str
    uri: str
    pushed: bool  # False: the tag was already there


def repository_uris(ecr: Any, names: Sequence[str]) -> dict[str, str]:
    """repository name -> URI, for repositories that must exist (the data stacks')."""
    try:
        found = ecr.describe_repositories(repositoryNames=list(names))["repositories"]
    except ecr.exceptions.RepositoryNotFoundException as exc:
        raise CiError(f"ECR repository missing (deploy data-and-events first): {exc}") from None
    return {r["repositoryName"]: r["repositoryUri"] for r in found}


def _has_tag(ecr: Any, repository: str, tag: str) -> bool:
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return False
    return True


def _login(ecr: Any, docker: Docker) -> None:
    (auth,) = ecr.get_authorization_token()["authorizationData"]
    user, password = base64.b64decode(auth["authorizationToken"]).decode().split(":", 1)
    registry = auth["proxyEndpoint"].removeprefix("https://")
    docker.run(["login", "--username", user, "--password-stdin", registry], stdin=password)


def push_images(
    ecr: Any,
    docker: Docker,
    names: Sequence[str],
    tag: str,
    stages: Sequence[str],
    *,
    definitions_dir: Path | None = None,
    context: str = ".",
) -> list[Pushed]:
    """Build each named image once, push it to every stage's repository that lacks the
    tag, and (with `definitions_dir`) write the imagedefinitions of the ECS services."""
    specs = _requested(names, tag, stages)
    repositories = sorted({repository_name(stage, spec) for stage in stages for spec in specs})
    uris = repository_uris(ecr, repositories)
    logged_in = False
    report: list[Pushed] = []
    for spec in specs:
        full_tag = tag + spec.tag_suffix
        local = f"kkot-{spec.name}:{full_tag}"
        missing = [s for s in stages if not _has_tag(ecr, repository_name(s, spec), full_tag)]
        if missing:
            build = ["build", "--file", spec.dockerfile]
            if spec.target:
                build += ["--target", spec.target]
            docker.run([*build, "--tag", local, context])
            if not logged_in:
                _login(ecr, docker)
                logged_in = True
        for stage in stages:
            uri = f"{uris[repository_name(stage, spec)]}:{full_tag}"
            if stage in missing:
                docker.run(["tag", local, uri])
                docker.run(["push", uri])
            report.append(Pushed(spec.name, stage, uri, stage in missing))
            if definitions_dir is not None and spec.deployed_by_ecs:
                _write_definitions(definitions_dir, stage, spec, uri)
    return report


def _requested(names: Sequence[str], tag: str, stages: Sequence[str]) -> list[Image]:
    """The images `names` stands for, once the tag, names and stages are checked."""
    if not TAG_PATTERN.match(tag):
        raise CiError(f"image tag {tag!r} is not a commit id (7-40 hex digits)")
    unknown = [n for n in names if n not in IMAGES]
    if unknown or not names:
        raise CiError(f"unknown images {unknown}; known: {', '.join(IMAGES)}")
    if not stages:
        raise CiError("no stages given")
    return [IMAGES[n] for n in names]


def _write_definitions(directory: Path, stage: str, spec: Image, uri: str) -> None:
    """The imagedefinitions file an ECS deploy action of `stage` reads for `spec`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / image_definitions_name(stage, spec)).write_text(
        json.dumps([{"name": spec.name, "imageUri": uri}]) + "\n", encoding="utf-8"
    )
