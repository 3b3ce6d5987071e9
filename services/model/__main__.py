"""`python -m services.model serve|train`: the SageMaker container's entry point.

SageMaker starts an inference container as `<image> serve` and a training container as
`<image> train`; both land here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from services.model.cli import add_serve_arguments, serve_command


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch `serve` here and `train` to `services.model.train`."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m services.model", description=__doc__)
    if args and args[0] == "train":
        try:
            train_main = importlib.import_module("services.model.train.__main__").main
        except ImportError as exc:
            parser.error(f"training is not available in this installation ({exc})")
        code: int = train_main(args[1:])
        return code
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the model server")
    add_serve_arguments(serve)
    sub.add_parser("train", help="run a training job (services.model.train)")
    parsed = parser.parse_args(args)
    return serve_command(parsed)


if __name__ == "__main__":
    sys.exit(main())
