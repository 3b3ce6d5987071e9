"""Turn templates into files: YAML (default) or JSON, byte-identical for the same input."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from troposphere import Template

__all__ = ["Format", "render", "write_templates"]

Format = Literal["yaml", "json"]


def render(t: Template, fmt: Format) -> str:
    """The template's text. troposphere sorts keys in `to_json`, and cfn-flip keeps that
    order when it converts to YAML, so the output depends only on the template."""
    if fmt == "json":
        text: str = t.to_json(indent=2)
    else:
        text = t.to_yaml()
    return text if text.endswith("\n") else text + "\n"


def write_templates(templates: dict[str, Template], out: Path, fmt: Format) -> list[Path]:
    """Write one file per stack (`<stack>.yaml` or `.json`) into `out`; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stack in sorted(templates):
        path = out / f"{stack}.{fmt}"
        path.write_text(render(templates[stack], fmt), encoding="utf-8")
        written.append(path)
    return written
