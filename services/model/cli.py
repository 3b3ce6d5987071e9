"""`kkot model prepare` and `kkot serve`: build the default artifact, run the server."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_OUT", "prepare_command", "register", "serve_command"]

DEFAULT_OUT = Path("var/models/default")


def register(subparsers: Any) -> None:
    """Add `model prepare` and `serve` to the `kkot` command."""
    model = subparsers.add_parser("model", help="build and inspect model artifacts")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    prepare = model_sub.add_parser(
        "prepare", help="write the ImageNet EfficientNet-Lite0 default artifact"
    )
    prepare.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    prepare.add_argument("--force", action="store_true", help="rebuild even if it exists")
    prepare.set_defaults(func=prepare_command)

    serve = subparsers.add_parser("serve", help="run the SageMaker-compatible model server")
    add_serve_arguments(serve)
    serve.set_defaults(func=serve_command)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `serve`; unset ones come from KKOT_MODEL_* / SageMaker variables."""
    parser.add_argument("--model-dir", type=Path, help="artifact folder (KKOT_MODEL_DIR)")
    parser.add_argument("--port", type=int, help="port (KKOT_MODEL_PORT, default 8080)")
    parser.add_argument("--host", help="interface (KKOT_MODEL_HOST, default 127.0.0.1)")


def prepare_command(args: argparse.Namespace) -> int:
    """Build the default artifact (idempotent unless --force)."""
    from services.model.prepare import prepare_default_model
    from shared.logging import configure_logging

    configure_logging()
    metadata = prepare_default_model(args.out, force=args.force)
    from shared.logging import get_logger

    get_logger("kkot.model").info(
        "model_prepared", path=str(args.out), name=metadata.name, version=metadata.version
    )
    return 0


def serve_command(args: argparse.Namespace) -> int:
    """Run the model server until interrupted."""
    from services.model.server import run
    from services.model.settings import ModelServerSettings

    overrides: dict[str, Any] = {}
    if args.model_dir is not None:
        overrides["model_dir"] = args.model_dir.resolve()
    if args.port is not None:
        overrides["port"] = args.port
    if args.host is not None:
        overrides["host"] = args.host
    run(ModelServerSettings(**overrides))
    return 0
