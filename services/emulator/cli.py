"""`kkot emulator`: the AWS emulator on its own (for the compose stack, or by hand).

kkot emulator [--host 0.0.0.0] [--port 5000] [--stage local]
    start a moto server, create the stage's data-and-events stack in it, log
    `emulator_ready` with the resource names, and stay up until SIGINT/SIGTERM;
kkot emulator --check [--port 5000] [--stage local]
    exit 0 when an emulator on that port has the stack and its resources
    (the container healthcheck), else 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from types import FrameType
from typing import Any

from services.emulator.resources import DUMMY_CREDENTIALS, EmulatedStage
from shared.logging import configure_logging, get_logger

__all__ = ["register"]

_log = get_logger("kkot.emulator")


def register(subparsers: Any) -> None:
    """Add `kkot emulator` to the `kkot` command."""
    parser = subparsers.add_parser(
        "emulator", help="moto server with the stage's data-and-events stack (AWS emulator)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--stage", default="local", help="stage whose resources to create")
    parser.add_argument(
        "--check", action="store_true", help="only check a running emulator is provisioned"
    )
    parser.set_defaults(func=emulator_command)


def emulator_command(args: argparse.Namespace) -> int:
    """Run the emulator until stopped, or check one (`--check`)."""
    from services.emulator.provision import is_provisioned, provision
    from services.emulator.server import EmulatorFailed, moto_server

    configure_logging()
    for name, value in DUMMY_CREDENTIALS.items():
        os.environ[name] = value  # every AWS client of this process talks to moto
    if args.check:
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        ready = is_provisioned(EmulatedStage(f"http://{host}:{args.port}", args.stage))
        return 0 if ready else 1
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        with moto_server(args.host, args.port) as url:
            stage = EmulatedStage(url, args.stage)
            provision(stage, report=lambda line: _log.info("provision", step=line))
            _log.info(
                "emulator_ready",
                url=url,
                stage=args.stage,
                stack=stage.stack_name,
                table=stage.table_name,
                images_bucket=stage.images_bucket,
                event_bus=stage.event_bus_name,
                was_queue_url=stage.was_queue_url,
            )
            stop.wait()
    except EmulatorFailed as exc:
        _log.error("emulator_failed", error=str(exc))
        return 1
    _log.info("emulator_stopped")
    return 0
