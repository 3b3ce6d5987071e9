"""`kkot run --aws-emulator` as a real subprocess, driven through the gateway.

It classifies photos (201, and 202 with `Prefer: respond-async` finished through
EventBridge + the `was` SQS queue), pages history, sends feedback with a label from the
model's own list, deploys a new model version with `kkot models deploy` (announced on
EventBridge) and sees WAS and web pick it up; then reads the emulator directly with
boto3: the records are in DynamoDB and the photos in S3. Ctrl-C stops everything,
the moto server included."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.emulator.resources import EmulatedStage
from services.pipeline.registry import ApprovalStatus, Lineage, LocalRegistry
from shared.contracts.classification import (
    ClassificationPage,
    ClassificationRecord,
    ClassificationStatus,
    CurrentModel,
    LabelsResponse,
)
from tests.e2e.conftest import free_ports
from tests.was.test_model_info import relabelled_copy

pytestmark = [pytest.mark.slow, pytest.mark.dataset]
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Running:
    url: str
    model_url: str
    stage: EmulatedStage
    log: Path


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def aws_flavour(
    default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """`kkot run --aws-emulator` on free ports; stopped with SIGINT (Ctrl-C) at the end."""
    gateway, web, was, model, emulator = free_ports(5)
    tmp = tmp_path_factory.mktemp("aws-flavour")
    log = tmp / "kkot-run.log"
    command = [
        sys.executable, "-m", "services.cli", "run", "--aws-emulator",
        "--emulator-port", str(emulator), "--gateway-port", str(gateway),
        "--web-port", str(web), "--was-port", str(was), "--model-port", str(model),
        "--model-dir", str(default_model_dir), "--data-dir", str(tmp / "was"),
    ]  # fmt: skip
    env = {**os.environ, "KKOT_GATEWAY_LOG_FORMAT": "json"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
    running = Running(
        f"http://127.0.0.1:{gateway}",
        f"http://127.0.0.1:{model}",
        EmulatedStage(f"http://127.0.0.1:{emulator}"),
        log,
    )
    try:
        deadline = time.monotonic() + 180
        while "kkot is up" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "kkot run --aws-emulator did not come up"
            time.sleep(0.3)
        assert f"AWS emulator (moto) at http://127.0.0.1:{emulator}" in log.read_text()
        yield running
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, log.read_text(errors="replace")[-3000:]
    for port in (gateway, web, was, model, emulator):
        assert not _port_open(port), f"port {port} still open after Ctrl-C"


async def _json(response: aiohttp.ClientResponse) -> Any:
    assert response.status < 400, f"{response.status} {await response.text()}"
    return await response.json()


async def _classify(http: aiohttp.ClientSession, url: str, photo: Path, **headers: str) -> Any:
    form = aiohttp.FormData()
    data = await asyncio.to_thread(photo.read_bytes)
    form.add_field("file", data, filename=photo.name, content_type="image/jpeg")
    return await http.post(f"{url}/api/v1/classifications", data=form, headers=headers)


async def _eventually(check: Any, within_s: float, what: str) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def _history_in_two_pages(http: aiohttp.ClientSession, url: str) -> list[str]:
    """The ids of the history, two per page (DynamoDB's by-time index, keyset cursor)."""
    async with http.get(f"{url}/api/v1/classifications?limit=2") as response:
        first = ClassificationPage.model_validate(await _json(response))
    assert first.next_cursor
    async with http.get(
        f"{url}/api/v1/classifications", params={"limit": "2", "cursor": first.next_cursor}
    ) as response:
        second = ClassificationPage.model_validate(await _json(response))
    return [item.id for item in first.items + second.items]


async def _deploy_with_the_cli(
    aws_flavour: Running, default_model_dir: Path, tmp_path: Path
) -> int:
    """A new version deployed with `kkot models deploy`, announced on the emulator's
    EventBridge; its version number."""
    registry = LocalRegistry(tmp_path / "registry")
    version = registry.register(
        "kkot-flowers",
        relabelled_copy(default_model_dir, tmp_path / "candidate", "candidate"),
        status=ApprovalStatus.APPROVED,
        metrics={"accuracy": 0.5},
        lineage=Lineage(),
    ).version
    deploy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "models", "deploy", str(version),
        "--registry", str(tmp_path / "registry"), "--endpoint-url", aws_flavour.model_url,
        cwd=REPO,
        env={**os.environ, **aws_flavour.stage.pipeline_environment()},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(deploy.communicate(), 120)
    assert deploy.returncode == 0, err.decode()[-2000:]
    assert json.loads(out)["live"] is True
    return version


async def test_the_aws_flavour_end_to_end(
    aws_flavour: Running,
    flower_photos: dict[str, list[Path]],
    default_model_dir: Path,
    tmp_path: Path,
) -> None:
    url = aws_flavour.url
    photos = [paths[0] for paths in flower_photos.values()][:3]
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        # Labels come through the endpoint's describe answer (no admin API involved).
        async def labels_known() -> LabelsResponse | None:
            async with http.get(f"{url}/api/v1/labels") as response:
                if response.status != 200:
                    return None
                return LabelsResponse.model_validate(await response.json())

        labels = await _eventually(labels_known, 60, "WAS never learnt the labels")
        assert len(labels.labels) == 1000

        # Synchronous classifications: 201.
        records: list[ClassificationRecord] = []
        for photo in photos[:2]:
            async with await _classify(http, url, photo) as response:
                assert response.status == 201, await response.text()
                records.append(ClassificationRecord.model_validate(await response.json()))
        # Background: 202, finished by WAS's consumer of the was queue via EventBridge.
        async with await _classify(http, url, photos[2], Prefer="respond-async") as response:
            assert response.status == 202, await response.text()
            location = response.headers["Location"]

        async def finished() -> ClassificationRecord | None:
            async with http.get(f"{url}{location}") as response:
                record = ClassificationRecord.model_validate(await _json(response))
            return None if record.status is ClassificationStatus.PENDING else record

        background = await _eventually(finished, 30, "the background job never finished")
        assert background.status is ClassificationStatus.COMPLETED and background.label
        records.append(background)

        paged = await _history_in_two_pages(http, url)
        assert sorted(paged) == sorted(r.id for r in records)

        # Feedback with a label from the model's own list.
        corrected = labels.labels[7].label
        async with http.post(
            f"{url}/api/v1/classifications/{records[0].id}/feedback", json={"label": corrected}
        ) as response:
            assert ClassificationRecord.model_validate(await _json(response)).feedback_label == (
                corrected
            )

        version = await _deploy_with_the_cli(aws_flavour, default_model_dir, tmp_path)
        deployed_at = time.monotonic()

        async def everyone_has_it() -> bool:
            async with http.get(f"{url}/api/v1/models/current") as response:
                current = CurrentModel.model_validate(await _json(response))
            async with http.get(f"{url}/api/v1/labels") as response:
                new_labels = LabelsResponse.model_validate(await _json(response))
            async with http.get(f"{url}/model", headers={"Accept-Language": "en"}) as response:
                page = await response.text()
            return (
                current.version == str(version)
                and new_labels.labels[0].label.startswith("candidate-")
                and f"<code>{version}</code>" in page
            )

        await _eventually(everyone_has_it, 15, "the deploy did not reach every service")
        assert time.monotonic() - deployed_at < 15
        async with await _classify(http, url, photos[0]) as response:
            after = ClassificationRecord.model_validate(await _json(response))
        assert after.model_version == str(version) and after.label.startswith("candidate-")

    # The emulator itself holds the records (DynamoDB) and the photos (S3).
    stage = aws_flavour.stage
    dynamodb, s3 = stage.client("dynamodb"), stage.client("s3")
    for record, photo in zip(records, photos, strict=True):
        item = dynamodb.get_item(TableName=stage.table_name, Key={"pk": {"S": record.id}})
        body = json.loads(item["Item"]["body"]["S"])
        assert body["status"] == "completed"
        stored = s3.get_object(Bucket=stage.images_bucket, Key=body["image_key"])
        assert stored["Body"].read() == photo.read_bytes()
    first_item = dynamodb.get_item(TableName=stage.table_name, Key={"pk": {"S": records[0].id}})
    assert json.loads(first_item["Item"]["body"]["S"])["feedback_label"] == corrected


def test_kkot_emulator_alone_provisions_the_stage_and_reports_ready(tmp_path: Path) -> None:
    """What the compose stack runs: `kkot emulator` (moto + the stage's stack), with
    `kkot emulator --check` as its healthcheck; SIGTERM stops it and its moto server."""
    (port,) = free_ports(1)
    check = [sys.executable, "-m", "services.cli", "emulator", "--check", "--port", str(port)]
    assert subprocess.run(check, cwd=REPO, capture_output=True, timeout=60).returncode == 1
    log = tmp_path / "emulator.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "emulator", "--port", str(port),
             "--stage", "e2e"],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "emulator_ready" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "kkot emulator never became ready"
            time.sleep(0.3)
        ready = subprocess.run(
            [*check, "--stage", "e2e"], cwd=REPO, capture_output=True, timeout=60
        )
        assert ready.returncode == 0, ready.stderr.decode()[-2000:]
        stage = EmulatedStage(f"http://127.0.0.1:{port}", "e2e")
        assert stage.client("dynamodb").describe_table(TableName="kkot-e2e-classifications")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0, log.read_text(errors="replace")[-2000:]
    assert not _port_open(port)
