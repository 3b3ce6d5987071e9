"""Issue 12 case 3: accepted means done, on the real `kkot run` process.

~20 jobs are answered 202 (`Prefer: respond-async`), then the process is killed with
SIGKILL while jobs are still pending (read from its database to prove it); a restart
finishes every one of them, each `completed` or `failed` with a reason, within the
stated bound, and feedback on them then works.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

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
JOBS = 20
# Every resumed job must be finished this long after the restarted stack is up.
RECOVERY_BOUND_S = 60.0


def _start(ports: list[int], model_dir: Path, data_dir: Path) -> subprocess.Popen[bytes]:
    gateway, web, was, model = ports
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.runner",
            "--model-dir",
            str(model_dir),
            "--data-dir",
            str(data_dir),
            "--gateway-port",
            str(gateway),
            "--web-port",
            str(web),
            "--was-port",
            str(was),
            "--model-port",
            str(model),
        ],
        cwd=REPO_ROOT,
        # One job at a time: jobs are still pending when the kill comes.
        env={
            **os.environ,
            "KKOT_WAS_BACKGROUND_CONCURRENCY": "1",
            "KKOT_GATEWAY_RATE_CAPACITY": "0",
            "KKOT_GATEWAY_LOG_LEVEL": "warning",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_up(session: aiohttp.ClientSession, url: str) -> None:
    await wait_up(
        session, url, path="/api/v1/labels", what="kkot run", timeout_s=120, interval_s=0.3
    )


def _pending_in_db(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "classifications.sqlite3") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM classifications WHERE json_extract(body, '$.status') = 'pending'"
        ).fetchone()
    return int(count)


@pytest.mark.slow
async def test_jobs_accepted_before_a_kill_9_are_all_finished_after_a_restart(
    default_model_dir: Path, tmp_path: Path
) -> None:
    ports = free_ports(4)
    url = f"http://127.0.0.1:{ports[0]}"
    data_dir = tmp_path / "was"
    photos = [make_image_bytes("JPEG", color=10 * i) for i in range(JOBS)]
    process = _start(ports, default_model_dir, data_dir)
    with killed_with_sigkill(process):
        async with aiohttp.ClientSession() as session:
            await _wait_up(session, url)
            ids = await submit_async(session, url, photos)
    pending_at_kill = _pending_in_db(data_dir)
    assert pending_at_kill > 0, "every job finished before the kill: the test proves nothing"

    process = _start(ports, default_model_dir, data_dir)
    with stopped_with_sigterm(process):
        async with aiohttp.ClientSession() as session:
            await _wait_up(session, url)
            up = time.monotonic()
            records = await poll_until_settled(
                session, url, ids, bound_s=RECOVERY_BOUND_S, interval_s=0.5
            )
            took = time.monotonic() - up
            statuses = {r["status"] for r in records.values()}
            assert "pending" not in statuses, f"still pending after {took:.0f} s"
            await feedback_on_a_completed_job(session, url, records)
            async with session.get(url + "/history") as r:
                assert r.status == 200
