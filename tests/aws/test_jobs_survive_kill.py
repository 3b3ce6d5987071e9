"""Issue 12 case 3 in the aws flavour: WAS with DynamoDB, S3 and EventBridge + SQS in
moto runs as a real process; jobs answered 202 are pending when it is killed with
SIGKILL; a restarted WAS, with its own resume at start switched off, finishes every
one of them from SQS alone (messages not yet received, and the ones the dead process
held, which the queue redelivers after their visibility timeout of 60 s)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aioboto3
import aiohttp
import pytest

from tests.aws.conftest import REGION, BusResources
from tests.conftest import make_image_bytes
from tests.e2e.conftest import free_ports
from tests.kill_and_resume import (
    feedback_on_a_completed_job,
    killed_with_sigkill,
    poll_until_settled,
    stopped_with_sigterm,
    submit_async,
    wait_up,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
JOBS = 12
# The bus's visibility timeout (60 s) plus time to work through the jobs.
RECOVERY_BOUND_S = 120.0


def _start_was(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.was"],
        cwd=REPO_ROOT,
        env={**os.environ, **env, "KKOT_WAS_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_up(session: aiohttp.ClientSession, url: str) -> None:
    await wait_up(session, url, path="/health", what="WAS", timeout_s=60, interval_s=0.2)


async def _pending(moto_url: str, table: str) -> int:
    async with aioboto3.Session().client(
        "dynamodb", region_name=REGION, endpoint_url=moto_url
    ) as dynamodb:
        response = await dynamodb.scan(
            TableName=table,
            FilterExpression="#s = :p",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":p": {"S": "pending"}},
        )
    return len(response.get("Items", []))


@pytest.mark.slow
async def test_sqs_redelivery_finishes_jobs_of_a_killed_was(
    tmp_path: Path,
    model_server_url: str,
    bus_resources: BusResources,
    table_name: str,
    bucket: str,
) -> None:
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    env = {
        "KKOT_WAS_DATA_DIR": str(tmp_path / "was"),
        "KKOT_WAS_ENDPOINT_URL": model_server_url,
        "KKOT_WAS_STORE_BACKEND": "dynamodb",
        "KKOT_WAS_TABLE_NAME": table_name,
        "KKOT_WAS_BLOB_BACKEND": "s3",
        "KKOT_WAS_IMAGES_BUCKET": bucket,
        "KKOT_WAS_BUS_BACKEND": "aws",
        "KKOT_WAS_EVENT_BUS_NAME": bus_resources.bus_name,
        "KKOT_WAS_EVENTS_QUEUE_URL": bus_resources.queue_urls["was"],
        "KKOT_WAS_AWS_ENDPOINT_URL": bus_resources.endpoint_url,
        "KKOT_WAS_REGION": REGION,
        "KKOT_WAS_EVENTS_WAIT_TIME_S": "1",
        "KKOT_WAS_EVENTS_RETRY_VISIBILITY_S": "0",
        "KKOT_WAS_BACKGROUND_CONCURRENCY": "1",
        "KKOT_WAS_JOB_RESUME_ON_START": "false",
        "KKOT_WAS_LOG_LEVEL": "warning",
    }
    process = _start_was(port, env)
    with killed_with_sigkill(process):
        async with aiohttp.ClientSession() as session:
            await _wait_up(session, url)
            photos = [make_image_bytes(color=i * 20) for i in range(JOBS)]
            ids = await submit_async(session, url, photos)
    assert await _pending(bus_resources.endpoint_url, table_name) > 0, "nothing left to recover"

    process = _start_was(port, env)
    with stopped_with_sigterm(process):
        async with aiohttp.ClientSession() as session:
            await _wait_up(session, url)
            statuses = await poll_until_settled(
                session, url, ids, bound_s=RECOVERY_BOUND_S, interval_s=1
            )
            assert all(s["status"] != "pending" for s in statuses.values()), statuses
            await feedback_on_a_completed_job(session, url, statuses)
