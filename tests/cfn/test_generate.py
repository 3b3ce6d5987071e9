"""`generate-templates`: one file per stack, YAML or JSON, deterministic, and stacks that
fit together (every import names an export of an earlier stack)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cfn.__main__ import main as generate_templates
from cfn.naming import STAGES
from cfn.stacks import STACKS
from tests.cfn.conftest import Template, load_template, walk


def test_one_yaml_file_per_stack(templates_dir: Path) -> None:
    assert sorted(p.name for p in templates_dir.iterdir()) == sorted(f"{s}.yaml" for s in STACKS)


def test_generating_twice_gives_byte_identical_files(tmp_path: Path) -> None:
    for fmt in ("yaml", "json"):
        first, second = tmp_path / f"{fmt}-1", tmp_path / f"{fmt}-2"
        assert generate_templates(["--out", str(first), "--format", fmt]) == 0
        assert generate_templates(["--out", str(second), "--format", fmt]) == 0
        for path in sorted(first.iterdir()):
            assert path.read_bytes() == (second / path.name).read_bytes(), path.name


def test_json_format_says_the_same_as_yaml(tmp_path: Path, templates: dict[str, Template]) -> None:
    assert generate_templates(["--out", str(tmp_path), "--format", "json"]) == 0
    for name, template in templates.items():
        assert json.loads((tmp_path / f"{name}.json").read_text()) == template


def test_stack_option_writes_only_that_stack(tmp_path: Path) -> None:
    assert generate_templates(["--out", str(tmp_path), "--stack", "network"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["network.yaml"]
    assert "AWS::EC2::VPC" in (tmp_path / "network.yaml").read_text()


def test_every_stack_takes_the_stage(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        stage = template["Parameters"]["Stage"]
        assert stage["AllowedValues"] == list(STAGES), name
        assert stage["Default"] == "staging", name


def _exports(template: Template) -> set[str]:
    return {
        out["Export"]["Name"]["Fn::Sub"]
        for out in template.get("Outputs", {}).values()
        if "Export" in out
    }


def test_every_import_names_an_export_of_an_earlier_stack(templates: dict[str, Template]) -> None:
    available: set[str] = set()
    for name in STACKS:  # deployment order
        template = templates[name]
        for node in walk(template):
            if isinstance(node, dict) and "Fn::ImportValue" in node:
                imported = node["Fn::ImportValue"]
                if isinstance(imported, str):
                    # Another stage's export, by its literal name: only the delivery
                    # stack does that (deployed once, after both stages).
                    assert name == "delivery", (name, imported)
                    stage = next(s for s in STAGES if imported.startswith(f"kkot-{s}-"))
                    export = imported.replace(f"kkot-{stage}-", "kkot-${Stage}-", 1)
                else:
                    export = imported["Fn::Sub"]
                assert export.startswith("kkot-${Stage}-"), export
                assert export in available, f"{name} imports {export} before it is exported"
        exports = _exports(template)
        assert all(e.startswith(f"kkot-${{Stage}}-{name}-") for e in exports)
        available |= exports


def test_output_file_reloads_as_the_template(templates_dir: Path) -> None:
    network = load_template(templates_dir / "network.yaml")
    assert network["AWSTemplateFormatVersion"] == "2010-09-09"
    assert network["Resources"]["Vpc"]["Type"] == "AWS::EC2::VPC"


def test_output_does_not_depend_on_hash_seed(tmp_path: Path) -> None:
    # Separate processes with different string-hash seeds: nothing may come from set order.
    outs = []
    for seed in ("1", "4242"):
        out = tmp_path / seed
        subprocess.run(
            [sys.executable, "-m", "cfn", "--out", str(out)],
            check=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outs.append(out)
    for path in sorted(outs[0].iterdir()):
        assert path.read_bytes() == (outs[1] / path.name).read_bytes(), path.name
