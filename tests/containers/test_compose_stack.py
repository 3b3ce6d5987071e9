"""docker-compose.yml run for real (issue 11, defects 2, 5 and 7): the stack (the four
services on the AWS emulator's bus, table and bucket) comes up on 127.0.0.1 from the
built images, classifies photos through the gateway with the model's descriptions,
renders the pages, and streams a new classification to a browser's live history across
containers through EventBridge + SQS, not by polling."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.classification import ClassificationRecord, ClassificationStatus
from tests.conftest import REPO_ROOT
from tests.containers.conftest import built
from tests.containers.docker import free_port, wait_http
from tests.containers.engine import docker

pytestmark = [pytest.mark.containers, pytest.mark.usefixtures("engine")]

_ARTIFACTS = REPO_ROOT / "test-artifacts"


def compose_commands() -> list[list[str]]:
    """Every compose available here: v1 (`docker-compose`) and v2 (`docker compose`)."""
    found = []
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    if (
        shutil.which("docker")
        and subprocess.run(
            [docker(), "compose", "version"], capture_output=True, check=False, timeout=30
        ).returncode
        == 0
    ):
        found.append([docker(), "compose"])
    return found


class Stack:
    """One compose project of docker-compose.yml, on its own port."""

    def __init__(self, compose: list[str], model_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_url = f"http://127.0.0.1:{free_port()}"
        self.project = f"kkot-test-{uuid.uuid4().hex[:8]}"
        self._compose = [
            *compose,
            "--project-name",
            self.project,
            "--file",
            str(REPO_ROOT / "docker-compose.yml"),
        ]
        self._env = {
            "KKOT_COMPOSE_PORT": str(self.port),
            "KKOT_COMPOSE_METRICS_PORT": self.metrics_url.rsplit(":", 1)[1],
            "KKOT_COMPOSE_MODEL_DIR": str(model_dir),
        }

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(
            [*self._compose, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=REPO_ROOT,
            env={**os.environ, **self._env},
        )


def _request(
    url: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read()


def _multipart(photo: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{photo.name}"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + photo.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def classify(url: str, photo: Path) -> ClassificationRecord:
    """POST a photo to the public API through the gateway."""
    body, content_type = _multipart(photo)
    status, answer = _request(
        f"{url}/api/v1/classifications",
        data=body,
        headers={"Content-Type": content_type, "Accept-Language": "en"},
    )
    assert status == 201, answer[:500]
    return ClassificationRecord.model_validate_json(answer)


@pytest.fixture(scope="module")
def stack(model_dir: Path) -> Iterator[Stack]:
    """The compose stack up (built images, no build), torn down with its volumes after."""
    for name in ("gateway", "web", "was", "model", "emulator"):
        built(name)
    commands = compose_commands()
    if not commands:
        pytest.fail("no docker-compose and no `docker compose` (make engine installs v1)")
    running = Stack(commands[0], model_dir)
    try:
        up = running.run("up", "--detach", "--no-build")
        assert up.returncode == 0, up.stdout + up.stderr
        wait_http(f"{running.url}/health", 240)
        yield running
    finally:
        _ARTIFACTS.mkdir(exist_ok=True)
        logs = running.run("logs", "--no-color", "--tail", "200", timeout=120)
        (_ARTIFACTS / "compose-stack.log").write_text(logs.stdout + logs.stderr)
        down = running.run("down", "--volumes", "--remove-orphans", "--timeout", "10")
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.mark.parametrize("compose", compose_commands(), ids=lambda c: " ".join(c[-1:]))
def test_compose_accepts_the_file(compose: list[str]) -> None:
    # Defect 5: compose 1.29 refused the top-level `name:`.
    result = subprocess.run(
        [*compose, "--file", str(REPO_ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_classifies_flower_photos_through_the_gateway(stack: Stack, photos: list[Path]) -> None:
    for photo in photos:
        record = classify(stack.url, photo)
        assert record.status == ClassificationStatus.COMPLETED
        assert record.label and record.top_k[0].label == record.label
        # Defect 2: with the model's details unreadable, results had no description.
        assert record.description, record
        assert record.model_name
        status, image = _request(stack.url + record.image_url)
        assert status == 200 and image == photo.read_bytes()


def test_the_gateways_metrics_are_published_on_their_own_port_only(
    stack: Stack, photos: list[Path]
) -> None:
    classify(stack.url, photos[0])
    status, text = _request(stack.metrics_url + "/metrics")
    assert status == 200
    # The classification just made, counted under the upstream the proxy chose.
    wanted = ('route="proxy:was"', 'method="POST"', 'status="201"')
    counted = [
        float(line.rsplit(" ", 1)[1])
        for line in text.decode().splitlines()
        if line.startswith("kkot_http_requests_total{") and all(w in line for w in wanted)
    ]
    assert counted and counted[0] >= 1, text.decode()[:2000]
    with pytest.raises(urllib.error.HTTPError) as refused:  # never on the public port
        _request(stack.url + "/metrics")
    refused.value.close()  # the error holds the answer's socket
    assert refused.value.code == 404


@pytest.mark.parametrize("path", ["/", "/history", "/model", "/status"])
def test_pages_render(stack: Stack, path: str) -> None:
    # Defect 2: the model page answered 503 in the compose stack.
    status, page = _request(stack.url + path, headers={"Accept": "text/html"})
    assert status == 200
    assert b"<html" in page.lower()


def test_model_page_names_the_served_model(stack: Stack, model_dir: Path) -> None:
    metadata: dict[str, Any] = json.loads((model_dir / "metadata.json").read_text())
    _, page = _request(f"{stack.url}/model", headers={"Accept": "text/html"})
    assert str(metadata["name"]).encode() in page


def test_web_follows_the_event_bus_not_polling(stack: Stack) -> None:
    # Defect 7: separate containers had no shared bus, so web polled WAS.
    ids = stack.run("ps", "--quiet", "web", timeout=60).stdout.split()
    assert ids, "no web container"
    inspected = subprocess.run(
        [docker(), "inspect", "--format", "{{json .Config.Env}}", ids[0]],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    env = dict(item.split("=", 1) for item in json.loads(inspected.stdout))
    assert env["KKOT_WEB_EVENTS_SOURCE"] == "bus"
    assert env["KKOT_WEB_BUS_BACKEND"] == "aws"


def test_live_history_reaches_the_browser_across_containers(
    stack: Stack, photos: list[Path]
) -> None:
    # Defect 7: one container's classification must reach another's SSE stream.
    with urllib.request.urlopen(
        urllib.request.Request(f"{stack.url}/events", headers={"Accept": "text/event-stream"}),
        timeout=30,
    ) as stream:
        assert stream.status == 200
        time.sleep(1.0)  # let the stream's source take stock of what exists
        record = classify(stack.url, photos[0])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = stream.readline()
            if line.startswith(f"id: {record.id}".encode()):
                return
    pytest.fail("the new classification never reached the live history stream")
