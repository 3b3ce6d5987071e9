"""Fixtures for the operator-command tests: a moto server of their own (with the
change-set fixes of moto_changesets.py), the standard AWS settings pointing at it, and
a boto3 session, made by the commands' own `aws_session()`, that records what the
commands send to CloudFormation before the emulator-only template preparation."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from services.cli import build_parser
from tests.conftest import make_image_bytes
from tests.moto_server import CREDENTIALS, REGION, moto_server
from tests.ops.emulator import prepare_for_moto

ACCOUNT = "123456789012"


@pytest.fixture(scope="session")
def ops_moto_url() -> Iterator[str]:
    """A moto server for tests/ops only: the destroy test checks that nothing is left."""
    with moto_server("tests.ops.moto_changesets") as url:
        yield url


@pytest.fixture(scope="module")
def aws_env(ops_moto_url: str) -> Iterator[str]:
    """The standard settings, as an operator would set them, for one module at a time
    (undone after it: later test packages must not talk to this emulator).
    AWS_DEFAULT_REGION names another region: resources must land in AWS_REGION's (moto
    keeps regions apart)."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in CREDENTIALS.items():
            env.setenv(name, value)
        env.setenv("AWS_REGION", REGION)
        env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        env.setenv("AWS_ENDPOINT_URL", ops_moto_url)
        env.delenv("AWS_PROFILE", raising=False)
        yield ops_moto_url


@dataclass
class Sent:
    """The CreateChangeSet requests a session sent, as the commands built them."""

    change_sets: list[dict[str, Any]] = field(default_factory=list)

    def record(self, params: dict[str, Any], **_: Any) -> None:
        self.change_sets.append(copy.deepcopy(params))

    def for_stack(self, name: str) -> list[dict[str, Any]]:
        return [p for p in self.change_sets if p["StackName"] == name]


def _prepare(params: dict[str, Any], **_: Any) -> None:
    if "TemplateBody" in params:
        params["TemplateBody"] = prepare_for_moto(params["TemplateBody"])


@dataclass
class Emulated:
    """The session the commands get, and what it sent."""

    session: boto3.Session
    sent: Sent

    def client(self, service: str) -> Any:
        """A client for the test's own checks (same settings, no recording)."""
        return boto3.Session(region_name=REGION).client(service)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def emulated(aws_env: str) -> Emulated:
    """The commands' session: recorded first, then prepared for moto (in that order, so
    the record holds exactly what the command built)."""
    from services.aws.session import aws_session

    session = aws_session()
    sent = Sent()
    event = "before-parameter-build.cloudformation.CreateChangeSet"
    session.events.register(event, sent.record)
    session.events.register(event, _prepare)
    return Emulated(session=session, sent=sent)


@dataclass(frozen=True)
class Run:
    """One `kkot` command's exit code and output."""

    code: int
    out: str
    err: str


def run_kkot(session: boto3.Session, *argv: str) -> Run:
    """Run `kkot <argv>` in-process with `session` (what main() does, with the session
    injected instead of made from the environment)."""
    args = build_parser().parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = args.func(args, session)
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, default_model_dir: Path) -> Path:
    """A small model folder: the default model's metadata and labels, a stand-in graph
    (the deploy packs files; it does not run them)."""
    folder = tmp_path_factory.mktemp("model")
    for name in ("metadata.json", "labels.json"):
        (folder / name).write_bytes((default_model_dir / name).read_bytes())
    (folder / "model.onnx").write_bytes(b"stand-in graph for the emulator run")
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small image folder: two classes, five generated images each."""
    folder = tmp_path_factory.mktemp("flowers")
    for index, label in enumerate(("daisy", "tulip")):
        (folder / label).mkdir()
        for n in range(5):
            image = make_image_bytes(size=(48 + n, 32), color=40 * index + n)
            (folder / label / f"{label}-{n}.jpg").write_bytes(image)
    return folder


def push_image(ecr: Any, repository: str, tag: str) -> None:
    """Put an image manifest under `tag`, as `docker push` would."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:" + "0" * 64,
        },
        "layers": [],
        "tag": f"{repository}:{tag}",
    }
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
