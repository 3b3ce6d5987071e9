"""The `kkot` command. Each area adds its own sub-commands through `register()`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that contribute sub-commands; each has `register(subparsers)` and sets
# `func` (taking the parsed namespace, returning an exit code) on its parsers.
_COMMAND_MODULES = (
    "services.model.cli",  # model prepare, serve
    "services.pipeline.cli",  # train, pipeline run, models ls|show|approve|reject|deploy|rollback
    "services.runner",  # run: every service in one process (--aws-emulator: AWS flavour)
    "services.emulator.cli",  # emulator: moto + the stage's data-and-events stack
    "services.aws.cli",  # aws deploy|status|destroy, release model
    "services.ci.cli",  # ci push-images, ci start-model-pipeline (the buildspecs' steps)
    "services.review.cli",  # data review: rank the photos whose label the model doubts
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kkot", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
