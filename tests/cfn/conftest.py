"""Fixtures for the template tests: the templates are generated once per session by the
real `generate-templates` entry point, and tests read the files it wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfn_flip import to_json

from cfn.__main__ import main as generate_templates
from cfn.stacks import STACKS

Template = dict[str, Any]


def load_template(path: Path) -> Template:
    """A generated file as plain data (YAML short forms become `{"Ref": ...}` etc.)."""
    text = path.read_text(encoding="utf-8")
    data: Template = json.loads(to_json(text) if path.suffix == ".yaml" else text)
    return data


@pytest.fixture(scope="session")
def templates_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder `generate-templates --out` wrote the YAML templates into."""
    out = tmp_path_factory.mktemp("templates")
    assert generate_templates(["--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def templates(templates_dir: Path) -> dict[str, Template]:
    """Every stack's generated template, parsed, keyed by stack name."""
    return {name: load_template(templates_dir / f"{name}.yaml") for name in STACKS}


def resources_of_type(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    """The resources of one CloudFormation type, by logical id."""
    return {
        logical: resource
        for logical, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def walk(node: Any) -> Iterator[Any]:
    """Every dict and list nested in `node` (and `node` itself)."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)
