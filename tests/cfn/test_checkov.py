"""checkov on the generated templates: no failed check. A check that does not apply is
skipped in the template itself (resource Metadata `checkov: skip: [{id, comment}]`),
and every skip must carry its reason.

checkov pins many dependencies that conflict with the project's (it would downgrade
boto3/botocore below what aioboto3 needs, networkx and packaging), so it lives in its
own virtualenv: KKOT_CHECKOV names the executable (default .venv-checkov/bin/checkov)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cfn.conftest import Template, walk

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkov() -> Path:
    configured = os.environ.get("KKOT_CHECKOV")
    path = Path(configured) if configured else REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
    if not path.exists():
        pytest.skip(f"checkov not found at {path} (make checkov, or set KKOT_CHECKOV)")
    return path


def run_checkov(checkov: Path, directory: Path) -> list[dict[str, Any]]:
    """checkov's JSON report for a folder of CloudFormation templates (offline)."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(directory),
            "--framework",
            "cloudformation",
            # Not --quiet: the JSON report then lists skipped checks with their comments.
            "--compact",
            "--skip-download",  # no calls to the vendor's API
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    # Exit code 1 means failed checks; the report says which.
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


@pytest.fixture(scope="module")
def report(checkov: Path, templates_dir: Path) -> dict[str, Any]:
    (cloudformation,) = run_checkov(checkov, templates_dir)
    assert cloudformation["check_type"] == "cloudformation"
    return cloudformation


def test_no_checkov_check_fails(report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({Path(c['file_path']).name}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 100  # it really looked at the resources


def test_every_skip_has_a_reason(report: dict[str, Any], templates: dict[str, Template]) -> None:
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the documented skips are applied"
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]
    # And every skip written in a template is one checkov actually used.
    written = {
        skip["id"]
        for template in templates.values()
        for node in walk(template)
        if isinstance(node, dict) and "checkov" in node
        for skip in node["checkov"]["skip"]
    }
    assert written == {c["check_id"] for c in skipped}


def test_checkov_reports_a_bucket_left_open(checkov: Path, tmp_path: Path) -> None:
    # The zero above only means something if checkov flags what it should.
    (tmp_path / "open.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Open:\n    Type: AWS::S3::Bucket\n",
        encoding="utf-8",
    )
    (result,) = run_checkov(checkov, tmp_path)
    assert {c["check_id"] for c in result["results"]["failed_checks"]} >= {
        "CKV_AWS_18",
        "CKV_AWS_21",
    }
