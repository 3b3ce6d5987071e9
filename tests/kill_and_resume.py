"""Helpers of the "accepted means done" tests (issue 12 case 3), shared by the local
flavour (tests/security/test_chaos.py, `kkot run`) and the aws flavour
(tests/aws/test_jobs_survive_kill.py, WAS on moto): wait for a real process, submit
jobs answered 202, kill it with SIGKILL, then poll the restarted one until every job
is settled and check that feedback on a finished job works."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import aiohttp

__all__ = [
    "feedback_on_a_completed_job",
    "killed_with_sigkill",
    "poll_until_settled",
    "stopped_with_sigterm",
    "submit_async",
    "wait_up",
]

Record = dict[str, object]


async def wait_up(
    session: aiohttp.ClientSession,
    url: str,
    *,
    path: str,
    what: str,
    timeout_s: float,
    interval_s: float,
) -> None:
    """Return once GET url+path answers 200; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            async with session.get(url + path) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(interval_s)
    raise AssertionError(f"{what} did not come up")


async def submit_async(
    session: aiohttp.ClientSession, url: str, photos: Sequence[bytes]
) -> list[str]:
    """Submit every photo with `Prefer: respond-async`; each must be answered 202."""

    async def submit(photo: bytes) -> str:
        form = aiohttp.FormData()
        form.add_field("file", photo, filename="f.jpg", content_type="image/jpeg")
        async with session.post(
            url + "/api/v1/classifications", data=form, headers={"Prefer": "respond-async"}
        ) as response:
            assert response.status == 202, await response.text()
            return str((await response.json())["id"])

    return list(await asyncio.gather(*(submit(p) for p in photos)))


@contextmanager
def killed_with_sigkill(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Kill `process` with SIGKILL when the block ends (killed anyway if it failed)."""
    try:
        yield
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def stopped_with_sigterm(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Stop `process` with SIGTERM when the block ends, SIGKILL after 30 s."""
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def poll_until_settled(
    session: aiohttp.ClientSession,
    url: str,
    ids: Sequence[str],
    *,
    bound_s: float,
    interval_s: float,
) -> dict[str, Record]:
    """Each job's record, read until none is pending or `bound_s` has passed."""
    started = time.monotonic()
    records: dict[str, Record] = {}
    while time.monotonic() - started < bound_s:
        for record_id in ids:
            async with session.get(url + f"/api/v1/classifications/{record_id}") as r:
                assert r.status == 200
                records[record_id] = await r.json()
        if all(r["status"] != "pending" for r in records.values()):
            break
        await asyncio.sleep(interval_s)
    return records


async def feedback_on_a_completed_job(
    session: aiohttp.ClientSession, url: str, records: dict[str, Record]
) -> None:
    """Every job finished `completed` or with a reason, and feedback on one works."""
    for record in records.values():
        assert record["status"] == "completed" or record["error"], record
    done = [i for i, r in records.items() if r["status"] == "completed"]
    assert done
    async with session.get(url + "/api/v1/labels") as r:
        label = (await r.json())["labels"][0]["label"]
    async with session.post(
        url + f"/api/v1/classifications/{done[0]}/feedback", json={"label": label}
    ) as r:
        assert r.status == 200, await r.text()
