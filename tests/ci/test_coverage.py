"""Coverage as `make unit` measures it ([tool.coverage.*] in pyproject.toml): a pytest run
with `--cov` counts what a Python subprocess started by a test executes, even in another
working directory — the servers and commands most of the suite starts that way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SUBPROCESS_TEST = """
import subprocess, sys

def test_a_server_in_a_subprocess(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "shared.healthcheck", "http://127.0.0.1:9/", "--timeout", "0.1"],
        cwd=tmp_path, check=False, timeout=60,
    )
"""


def _toml_table(name: str, values: dict[str, object]) -> str:
    lines = [f"[{name}]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def test_make_units_coverage_reaches_subprocesses(tmp_path: Path) -> None:
    settings = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    coverage = settings["tool"]["coverage"]
    assert "subprocess" in coverage["run"]["patch"]
    # The project's settings, with a data file of this test's own: the run under test
    # must not touch the data of a `make unit` that may be measuring this very test.
    run = {**coverage["run"], "data_file": str(tmp_path / "data" / ".coverage")}
    config = tmp_path / "coverage.toml"
    config.write_text(
        _toml_table("run", run) + _toml_table("report", coverage["report"]), encoding="utf-8"
    )
    (tmp_path / "test_subprocess.py").write_text(SUBPROCESS_TEST, encoding="utf-8")
    report = tmp_path / "coverage.json"
    # Nothing of an outer coverage run (make unit's) leaks into the one under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "COV_CORE_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", str(tmp_path / "test_subprocess.py"),
            "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
            "--cov", f"--cov-config={config}", f"--cov-report=json:{report}",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    files = json.loads(report.read_text())["files"]
    measured = files["shared/healthcheck.py"]["summary"]
    # Only the subprocess ran the health check: its lines count.
    assert measured["covered_lines"] > measured["num_statements"] // 2
    assert "tests/ci/test_coverage.py" not in files  # the product, not the tests
