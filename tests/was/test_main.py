"""`python -m services.was` runs WAS alone, configured by KKOT_WAS_* variables."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp

from tests.conftest import REPO_ROOT


async def test_python_m_services_was_serves_health(tmp_path: Path, free_port: int) -> None:
    env = {
        **os.environ,
        "KKOT_WAS_PORT": str(free_port),
        "KKOT_WAS_DATA_DIR": str(tmp_path / "was"),
        # Nothing listens here: WAS must still start (and say it is not ready).
        "KKOT_WAS_ENDPOINT_URL": "http://127.0.0.1:9",
        "KKOT_WAS_LOG_FORMAT": "json",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.was",
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:
            health = ready = None
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{free_port}/health") as response:
                        health = response.status
                    async with session.get(f"http://127.0.0.1:{free_port}/ready") as response:
                        ready = response.status
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        assert health == 200
        assert ready == 503
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert b'"service": "was"' in stderr  # structured JSON logs with the service bound
    assert (tmp_path / "was" / "classifications.sqlite3").exists()
