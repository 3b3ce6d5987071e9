"""The OpenAPI document is the contract, checked against the live API: schemathesis
(pinned in the dev extra) drives every documented operation through the gateway of a
real stack on free ports, with examples, boundary/negative cases, random data and
request chains, and finds no failure.

One check stays off: `positive_data_acceptance` expects every schema-valid request to
be accepted, but no schema can say "bytes that decode as a photo" or "a cursor this
server issued", so random bytes and strings are rightly refused with the documented
400. Every other check runs (no 5xx, documented statuses, content types and headers,
response schemas, invalid input rejected, ...). The example count is bounded so the
run takes well under a minute.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from services.runner import RunningStack
from services.was.openapi import build_openapi
from services.was.routes import ROUTES

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.mark.skipif(
    not SCHEMATHESIS.exists() and shutil.which("schemathesis") is None,
    reason="schemathesis is not installed (dev extra)",
)
async def test_schemathesis_finds_no_failure_against_the_live_api(
    stack: RunningStack, artifacts_dir: Path, tmp_path: Path
) -> None:
    program = str(SCHEMATHESIS) if SCHEMATHESIS.exists() else "schemathesis"
    # A subprocess on the event loop: the stack under test runs on this very loop.
    process = await asyncio.create_subprocess_exec(
        program,
        "run",
        f"{stack.url}/api/v1/openapi.json",
        "--url",
        stack.url,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        "30",
        "--seed",
        "2",
        "--no-shrink",
        "--workers",
        "1",
        "--warnings",
        "off",
        "--request-timeout",
        "60",
        cwd=tmp_path,  # its .schemathesis/ cache stays out of the work tree
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    text = output.decode(errors="replace")
    (artifacts_dir / "schemathesis.txt").write_text(text)
    assert process.returncode == 0, text[-6000:]
    assert "No issues found" in text, text[-6000:]
    # Every documented operation was exercised, but the one serving the document
    # itself, which schemathesis leaves out of a run that loads the document from it.
    operations = sum(len(methods) for methods in build_openapi(ROUTES)["paths"].values()) - 1
    assert f"Selected: {operations}/{operations}" in text, text[-2000:]
    assert f"Tested: {operations}" in text, text[-2000:]
