"""`generate-templates`: write the CloudFormation templates of every stack."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cfn.capacity import load_capacity
from cfn.render import write_templates
from cfn.stacks import STACKS, build_all

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The command line: output folder, format and an optional subset of stacks."""
    parser = argparse.ArgumentParser(prog="generate-templates", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build/templates"), help="folder")
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml")
    parser.add_argument(
        "--capacity",
        type=Path,
        default=None,
        help="capacity file the scaling defaults come from (default cfn/capacity.json)",
    )
    parser.add_argument(
        "--stack",
        action="append",
        choices=list(STACKS),
        help="only this stack (repeatable); default: every stack",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the templates; prints nothing, writes `<out>/<stack>.<format>`."""
    args = build_parser().parse_args(argv)
    templates = build_all(load_capacity(args.capacity))
    if args.stack:
        templates = {name: templates[name] for name in args.stack}
    write_templates(templates, args.out, args.format)
    return 0


if __name__ == "__main__":
    sys.exit(main())
