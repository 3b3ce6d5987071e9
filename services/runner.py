"""`kkot run`: gateway, web, WAS and the model server in ONE process.

The four aiohttp applications each get their own `AppRunner`/`TCPSite` on one event
loop, and WAS and web share ONE in-memory event bus (so the history page updates live
from WAS's `classification.completed` events). `run_stack` is the composition used by
the command and by the integration tests alike.

`kkot run --aws-emulator` runs the AWS flavour instead: a moto server (port printed)
with the stage's data-and-events stack created in it through CloudFormation, and WAS
and web on its DynamoDB, S3 and EventBridge + SQS (each with its own EventBridge
client and fan-out queues, as separate tasks on AWS would be), the local model server
standing in for the SageMaker endpoint. Same URL; Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from services.emulator.resources import EmulatedStage
from services.gateway.app import create_app as create_gateway
from services.gateway.settings import GatewaySettings
from services.web.app import create_app as create_web
from services.web.settings import WebSettings
from shared import event_loop
from shared.events import MemoryEventBus
from shared.logging import configure_logging, get_logger

__all__ = ["RunningStack", "StackConfig", "register", "run_stack"]

_log = get_logger("kkot.run")
DEFAULT_MODEL_DIR = Path("var/models/default")
DEFAULT_DATA_DIR = Path("var/was")


@dataclass(frozen=True)
class StackConfig:
    """Where each service listens and what it serves; unset fields of each service's
    settings still come from its own KKOT_<SERVICE>_* environment variables."""

    model_dir: Path = DEFAULT_MODEL_DIR
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    gateway_port: int = 8080
    web_port: int = 8000
    was_port: int = 8081
    model_port: int = 8082
    # The gateway's own /metrics, apart from its public port (None: not served).
    gateway_metrics_port: int | None = 9080
    gateway: dict[str, Any] = field(default_factory=dict)
    web: dict[str, Any] = field(default_factory=dict)
    was: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    ready_timeout_s: float = 180.0
    # The AWS flavour: WAS and web on this emulated stage's resources, no shared bus.
    emulated: EmulatedStage | None = None

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"


@dataclass
class RunningStack:
    """The started stack: its config, its bus and its public URL."""

    config: StackConfig
    bus: MemoryEventBus
    runners: dict[str, web.AppRunner]

    @property
    def url(self) -> str:
        return self.config.url(self.config.gateway_port)


def _apps(config: StackConfig, bus: MemoryEventBus) -> list[tuple[str, web.Application, int]]:
    # Imported here: the model server and WAS pull in ONNX Runtime and aioboto3, which
    # `kkot --help` should not pay for.
    from services.model.app import create_app as create_model
    from services.model.settings import ModelServerSettings
    from services.was.app import create_app as create_was
    from services.was.settings import WasSettings

    model = ModelServerSettings(
        host=config.host, port=config.model_port, model_dir=config.model_dir, **config.model
    )
    emulated = config.emulated
    was = WasSettings(
        host=config.host,
        port=config.was_port,
        data_dir=config.data_dir,
        endpoint_url=config.url(config.model_port),
        **{**(emulated.was_settings() if emulated else {}), **config.was},
    )
    web_settings = WebSettings(
        host=config.host,
        port=config.web_port,
        was_url=config.url(config.was_port),
        **{"events_source": "bus", **(emulated.web_settings() if emulated else {}), **config.web},
    )
    # On the emulator each service has its own bus client, as separate tasks would.
    shared = None if emulated else bus
    gateway = GatewaySettings(
        host=config.host,
        port=config.gateway_port,
        was_url=config.url(config.was_port),
        web_url=config.url(config.web_port),
        metrics_port=config.gateway_metrics_port,
        **config.gateway,
    )
    # Started in dependency order; stopped in the reverse one.
    return [
        ("model", create_model(model), config.model_port),
        ("was", create_was(was, bus=shared), config.was_port),
        ("web", create_web(web_settings, bus=shared), config.web_port),
        ("gateway", create_gateway(gateway), config.gateway_port),
    ]


async def _wait_for_model(url: str, timeout_s: float) -> None:
    """Until the model server's /ping is 200 (it loads and warms the model first)."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url + "/ping") as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the model server at {url} was not ready in {timeout_s}s")
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def run_stack(config: StackConfig) -> AsyncIterator[RunningStack]:
    """Start the four services with one shared bus; stop them all on exit."""
    bus = MemoryEventBus()
    await bus.start()
    runners: dict[str, web.AppRunner] = {}
    try:
        for name, app, port in _apps(config, bus):
            # access_log off: the shared middleware writes the canonical line.
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
            await runner.setup()
            runners[name] = runner
            await web.TCPSite(runner, config.host, port).start()
        await _wait_for_model(config.url(config.model_port), config.ready_timeout_s)
        yield RunningStack(config=config, bus=bus, runners=runners)
    finally:
        for runner in reversed(list(runners.values())):
            await runner.cleanup()
        await bus.close()


def register(subparsers: Any) -> None:
    """Add `kkot run` to the `kkot` command."""
    parser = subparsers.add_parser(
        "run", help="run gateway, web, WAS and the model server in one process"
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="model artifact to serve (default: the deployed model, else var/models/default)",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="WAS's data")
    parser.add_argument("--host", default="127.0.0.1", help="interface for every service")
    parser.add_argument("--gateway-port", type=int, default=8080)
    parser.add_argument("--web-port", type=int, default=8000)
    parser.add_argument("--was-port", type=int, default=8081)
    parser.add_argument("--model-port", type=int, default=8082)
    parser.add_argument(
        "--gateway-metrics-port",
        type=int,
        default=9080,
        help="the gateway's own /metrics (web, WAS and the model server serve theirs)",
    )
    parser.add_argument(
        "--aws-emulator",
        action="store_true",
        help="the AWS flavour: DynamoDB, S3, EventBridge + SQS in a moto server",
    )
    parser.add_argument(
        "--emulator-port", type=int, default=0, help="moto server port (default: a free one)"
    )
    parser.add_argument("--stage", default="local", help="emulated stage (with --aws-emulator)")
    parser.set_defaults(func=run_command)


def _registry_dir() -> Path:
    """The pipeline's registry folder (KKOT_PIPELINE_REGISTRY_DIR, default var/registry)."""
    from services.pipeline.settings import PipelineSettings

    return PipelineSettings().registry_dir.resolve()


def _default_model_dir() -> Path:
    """The pipeline registry's deployed model when there is one (so a restart serves
    what was last deployed), else the default artifact."""
    from services.pipeline.registry import deployed_model_dir

    deployed = deployed_model_dir(_registry_dir())
    return deployed if deployed is not None else DEFAULT_MODEL_DIR


def run_command(args: argparse.Namespace) -> int:
    """Run the stack until SIGINT/SIGTERM."""
    config = StackConfig(
        model_dir=(args.model_dir or _default_model_dir()).resolve(),
        data_dir=args.data_dir,
        host=args.host,
        gateway_port=args.gateway_port,
        web_port=args.web_port,
        was_port=args.was_port,
        model_port=args.model_port,
        gateway_metrics_port=args.gateway_metrics_port,
        # The registry whose deployed model is served above is the one the model page
        # charts the versions of.
        was={"registry_dir": _registry_dir()},
    )
    configure_logging(GatewaySettings().log_level, GatewaySettings().log_format)
    try:
        if args.aws_emulator:
            return _run_on_emulator(config, args.emulator_port, args.stage)
        return event_loop.run(_serve(config))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


def _run_on_emulator(config: StackConfig, port: int, stage_name: str) -> int:
    """Start the emulator, create the stage's stack in it, then run the stack on it."""
    import os

    from services.emulator.provision import provision
    from services.emulator.resources import DUMMY_CREDENTIALS
    from services.emulator.server import EmulatorFailed, moto_server

    # Every AWS client of this process talks to the emulator, never to an account.
    os.environ.update(DUMMY_CREDENTIALS)
    try:
        with moto_server(config.host, port) as url:
            _log.info(f"AWS emulator (moto) at {url}", emulator_url=url)
            stage = EmulatedStage(url, stage_name)
            provision(stage, report=lambda line: _log.info("emulator_provision", step=line))
            exports = " ".join(f"{k}={v}" for k, v in stage.pipeline_environment().items())
            _log.info(f"deploys reach every service with: {exports} kkot models deploy N")
            return event_loop.run(_serve(replace(config, emulated=stage)))
    except EmulatorFailed as exc:
        _log.error("kkot_failed_to_start", error=str(exc))
        return 1


async def _serve(config: StackConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with run_stack(config) as stack:
            _log.info(f"kkot is up: {stack.url}", url=stack.url, model_dir=str(config.model_dir))
            await stop.wait()
            _log.info("kkot stopping")
    except (OSError, TimeoutError) as exc:
        _log.error("kkot_failed_to_start", error=str(exc))
        return 1
    _log.info("kkot stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m services.runner [options]`: the same as `kkot run [options]`."""
    parser = argparse.ArgumentParser(prog="kkot")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["run", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
