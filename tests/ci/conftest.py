"""Fixtures for the `kkot ci` tests: the session's moto server (tests/aws), the standard
AWS settings pointing at it, and the stages' ECR repositories as the data-and-events
stack names them."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from cfn.naming import STAGES
from services.ci.images import IMAGES, repository_name
from tests.aws.conftest import REGION, moto_url  # noqa: F401  (one moto server per session)


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    """The standard AWS settings (AWS_ENDPOINT_URL, AWS_REGION) pointing at moto."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return moto_url


@pytest.fixture
def repositories(aws: str) -> Iterator[dict[str, str]]:
    """Every stage's ECR repositories (name -> URI), created empty, deleted after."""
    ecr = boto3.client("ecr")
    names = sorted({repository_name(s, spec) for s in STAGES for spec in IMAGES.values()})
    uris = {
        name: ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")[
            "repository"
        ]["repositoryUri"]
        for name in names
    }
    yield uris
    for name in names:
        ecr.delete_repository(repositoryName=name, force=True)
