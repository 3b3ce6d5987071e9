"""`python -m services.model serve|train|evaluate`: the SageMaker container's entry point.

SageMaker starts an inference container as `<image> serve` and a training container as
`<image> train`; the pipeline's processing step runs `<image> evaluate`. All land here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from services.model.cli import add_serve_arguments, serve_command
from services.model.evaluate_step import EvaluationMissing, default_dirs, publish_evaluation


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
    evaluate = sub.add_parser("evaluate", help="publish the artifact's evaluation (pipeline)")
    model_dir, out_dir = default_dirs()
    evaluate.add_argument("--model-dir", type=Path, default=model_dir)
    evaluate.add_argument("--out-dir", type=Path, default=out_dir)
    parsed = parser.parse_args(args)
    if parsed.command == "evaluate":
        return _evaluate(parsed.model_dir, parsed.out_dir)
    return serve_command(parsed)


def _evaluate(model_dir: Path, out_dir: Path) -> int:
    try:
        evaluation = publish_evaluation(model_dir, out_dir)
    except (EvaluationMissing, OSError, tarfile.TarError, ValidationError) as exc:
        sys.stderr.write(f"evaluate: {exc}\n")
        return 1
    sys.stdout.write(f"evaluate: accuracy {evaluation.accuracy:.4f} -> {out_dir}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
