"""The one botocore configuration: `attempts` is the number of calls a client makes,
counted by a real HTTP server that answers every call with a retryable 503, through
boto3 and aioboto3 alike (WAS's endpoint client: tests/was/test_endpoint_attempts.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aioboto3
import boto3
import botocore.session
import pytest
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from shared.aws_config import AwsClientConfig, with_default_config
from tests.counting_server import Counting, counting_server

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
REGION = "us-east-1"


def _quick(attempts: int) -> AwsClientConfig:
    # Short timeouts; standard mode backs off up to ~1 s then ~2 s between calls.
    return AwsClientConfig(attempts=attempts, connect_timeout_s=2.0, read_timeout_s=5.0)


@pytest.fixture
async def server() -> AsyncIterator[Counting]:
    async with counting_server() as counting:
        yield counting


def _invoke_sync(client: Any) -> None:
    with pytest.raises(ClientError):
        client.invoke_endpoint(EndpointName="e", Body=b"x", ContentType="image/jpeg")


async def _boto3_calls(server: Counting, make_client: Callable[[], Any]) -> int:
    await asyncio.to_thread(lambda: _invoke_sync(make_client()))
    return server.calls


async def _aioboto3_calls(server: Counting, config: AioConfig) -> int:
    session = aioboto3.Session(**CREDENTIALS, region_name=REGION)
    async with session.client(
        "sagemaker-runtime", endpoint_url=server.url, config=config
    ) as client:
        with pytest.raises(ClientError):
            await client.invoke_endpoint(EndpointName="e", Body=b"x", ContentType="image/jpeg")
    return server.calls


@pytest.mark.parametrize(("attempts", "calls"), [(1, 1), (3, 3)])
async def test_boto3_makes_exactly_the_configured_attempts(
    server: Counting, attempts: int, calls: int
) -> None:
    config = _quick(attempts).for_boto3()
    made = await _boto3_calls(
        server,
        lambda: boto3.client(
            "sagemaker-runtime",
            endpoint_url=server.url,
            region_name=REGION,
            config=config,
            **CREDENTIALS,
        ),
    )
    assert made == calls


@pytest.mark.parametrize(("attempts", "calls"), [(1, 1), (2, 2)])
async def test_aioboto3_makes_exactly_the_configured_attempts(
    server: Counting, attempts: int, calls: int
) -> None:
    assert await _aioboto3_calls(server, _quick(attempts).for_aioboto3()) == calls


async def test_max_attempts_one_would_have_retried_once(server: Counting) -> None:
    # Why kkot writes only total_max_attempts: this key counts retries, not calls.
    legacy = AioConfig(retries={"mode": "standard", "max_attempts": 1}, read_timeout=5)
    assert await _aioboto3_calls(server, legacy) == 2


async def test_a_session_default_reaches_clients_without_their_own(server: Counting) -> None:
    core = with_default_config(botocore.session.Session(), _quick(1))
    session = boto3.Session(botocore_session=core, region_name=REGION, **CREDENTIALS)
    made = await _boto3_calls(
        server, lambda: session.client("sagemaker-runtime", endpoint_url=server.url)
    )
    assert made == 1


def test_attempts_count_the_first_call() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AwsClientConfig(attempts=0)


def test_no_other_module_builds_a_botocore_config() -> None:
    # One source: every client's retries and timeouts come from shared.aws_config.
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for folder in ("services", "shared", "cfn")
        for path in (root / folder).rglob("*.py")
        if path.name != "aws_config.py"
        and any(
            marker in path.read_text(encoding="utf-8")
            for marker in ("AioConfig(", "retries=", "botocore.config", "aiobotocore.config")
        )
    ]
    assert offenders == []
