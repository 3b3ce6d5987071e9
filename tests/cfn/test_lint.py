"""cfn-lint on every generated template: no errors, and no warnings except the few
ignored below, each with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

from cfn.stacks import STACKS

# The tutorial's region (Seoul) and the default one.
REGIONS = ["ap-northeast-2", "us-east-1"]

# Rule id -> why it is ignored. Empty today: every finding was fixed in the code.
IGNORED_RULES: dict[str, str] = {}


@pytest.mark.parametrize("stack", list(STACKS))
def test_template_passes_cfn_lint(templates_dir: Path, stack: str) -> None:
    matches = lint_file(
        templates_dir / f"{stack}.yaml",
        config=ManualArgs(regions=REGIONS, ignore_checks=sorted(IGNORED_RULES)),
    )
    findings = [
        f"{m.rule.id} {m.message} (line {m.linenumber})"
        for m in matches
        if m.rule.id[0] in "EW"  # errors and warnings; informational findings are not kept
    ]
    assert findings == []


def test_cfn_lint_catches_a_broken_template(tmp_path: Path) -> None:
    # The check above is only worth something if cfn-lint reads our YAML and reports.
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        "Resources:\n"
        "  Queue:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      VisibilityTimeout: !Ref Missing\n",
        encoding="utf-8",
    )
    ids = {m.rule.id for m in lint_file(broken, config=ManualArgs(regions=REGIONS))}
    assert "E1020" in ids or "E3005" in ids or any(i.startswith("E") for i in ids)
