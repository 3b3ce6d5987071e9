"""`kkot pipeline ...`, `kkot models ...` and `kkot train`.

    kkot train [--data DIR] [--eval-data DIR] [--model-dir DIR] ...   one training job
    kkot pipeline run --data DIR [--eval-data DIR] [--min-accuracy X] [--no-deploy]
                      [--endpoint-url URL] [--registry DIR] [--feedback DIR]
                      [--feedback-url URL] [--seed N] [--cv-folds K] [--manual-approval]
                      [--overrides label_overrides.json]
    kkot pipeline export-feedback --was URL --out DIR
    kkot models ls | show VERSION | approve VERSION | reject VERSION | deploy VERSION | rollback

Progress and step timings go to stderr (structlog); the result is one JSON document on
stdout. Exit codes: 0 done, 1 a step failed (reason on stderr), 3 the condition
failed (registered as Rejected), 4 approved but not deployed (pending approval or a
failed deploy, rolled back).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from services.pipeline.errors import PipelineError
from services.pipeline.settings import PipelineSettings
from shared.logging import configure_logging, get_logger

__all__ = ["register"]

T = TypeVar("T")
SAGEMAKER = "sagemaker"  # `--registry sagemaker`: the SageMaker Model Registry
_log = get_logger("kkot.pipeline.cli")


def register(subparsers: Any) -> None:
    """Add `pipeline`, `models` and `train` to the `kkot` command."""
    _register_train(subparsers)
    _register_pipeline(subparsers)
    _register_models(subparsers)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        type=Path,
        help="registry folder (default var/registry), or `sagemaker` for the SageMaker "
        "Model Registry (region, endpoint and bucket from KKOT_PIPELINE_*)",
    )
    parser.add_argument("--endpoint-url", help="model server URL (default http://127.0.0.1:8082)")
    parser.add_argument("--group", help="model package group (default kkot-flowers)")


def _register_train(subparsers: Any) -> None:
    # The flags' module alone (not the training API): building `kkot`'s parser must not
    # load the training stack, which the emulator and service images do not have.
    from services.model.train.command import add_train_arguments

    train = subparsers.add_parser(
        "train", help="run one training job (SageMaker training-job contract)"
    )
    add_train_arguments(train)
    train.set_defaults(func=_train_command)


def _register_pipeline(subparsers: Any) -> None:
    pipeline = subparsers.add_parser("pipeline", help="train, evaluate, register, deploy")
    sub = pipeline.add_subparsers(dest="pipeline_command", required=True)
    run = sub.add_parser("run", help="validate -> train -> evaluate -> register -> deploy")
    run.add_argument("--data", type=Path, required=True, help="image folder, one dir per class")
    run.add_argument("--eval-data", type=Path, help="held-out image folder")
    run.add_argument("--min-accuracy", type=float, help="condition threshold (default 0.9)")
    run.add_argument("--no-deploy", action="store_true", help="stop after registering")
    run.add_argument(
        "--feedback", type=Path, action="append", default=[], help="extra image folder(s)"
    )
    run.add_argument("--feedback-url", help="WAS (or gateway) URL to export feedback from")
    run.add_argument("--api-key", help="API key for --feedback-url through the gateway")
    run.add_argument("--seed", type=int, help="split and training seed")
    run.add_argument(
        "--cv-folds",
        type=int,
        help="k-fold cross-validation without --eval-data (default 5; 0 = one 20 %% split)",
    )
    run.add_argument("--epochs", type=int, help="head optimiser iterations")
    run.add_argument("--hyperparameters", type=Path, help="hyperparameters.json")
    run.add_argument("--labels", type=Path, help="expected labels (labels.json or lines)")
    run.add_argument(
        "--overrides",
        type=Path,
        help="reviewed label overrides (label_overrides.json from the Review page)",
    )
    approval = run.add_mutually_exclusive_group()
    approval.add_argument(
        "--auto-approve",
        dest="auto_approve",
        action="store_true",
        default=None,
        help="approve when the condition passes (default)",
    )
    approval.add_argument(
        "--manual-approval",
        dest="auto_approve",
        action="store_false",
        help="register as PendingManualApproval instead",
    )
    _common(run)
    run.set_defaults(func=_run_command)

    export = sub.add_parser("export-feedback", help="WAS's corrected examples as image folder")
    export.add_argument("--was", required=True, help="WAS (or gateway) base URL")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--api-key", help="API key when going through the gateway")
    export.set_defaults(func=_export_command)


def _register_models(subparsers: Any) -> None:
    models = subparsers.add_parser("models", help="the model registry and deployment")
    sub = models.add_subparsers(dest="models_command", required=True)
    ls = sub.add_parser("ls", help="list versions")
    _common(ls)
    ls.set_defaults(func=_ls_command)
    for name, helptext, func in (
        ("show", "one version in full", _show_command),
        ("approve", "set a version Approved", _approve_command),
        ("reject", "set a version Rejected", _reject_command),
        ("deploy", "serve an Approved version (live swap + smoke test)", _deploy_command),
    ):
        parser = sub.add_parser(name, help=helptext)
        parser.add_argument("version", type=int)
        if name in ("approve", "reject"):
            parser.add_argument("--reason", help="why (kept in the registry)")
        _common(parser)
        parser.set_defaults(func=func)
    back = sub.add_parser("rollback", help="serve the previously deployed version again")
    _common(back)
    back.set_defaults(func=_rollback_command)


# -- helpers ---------------------------------------------------------------------------


def _settings(args: argparse.Namespace, **extra: Any) -> PipelineSettings:
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "registry", None) is not None:
        if str(args.registry) == SAGEMAKER:
            overrides["registry_backend"] = SAGEMAKER
        else:
            overrides["registry_dir"] = args.registry
    if getattr(args, "endpoint_url", None):
        overrides["endpoint_url"] = args.endpoint_url
    if getattr(args, "group", None):
        overrides["group"] = args.group
    return PipelineSettings(**overrides)


def _emit(document: Any) -> None:
    if isinstance(document, BaseModel):
        document = document.model_dump(mode="json")
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _guarded(action: Callable[[], int]) -> int:
    """Run a command; a PipelineError (or training error) is one clear line, exit 1."""
    from services.model.train.api import TrainingError

    try:
        return action()
    except (PipelineError, TrainingError) as exc:
        _log.error("command_failed", reason=str(exc))
        sys.stderr.write(f"error: {exc}\n")
        return 1


async def _with_bus(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(bus)` with the settings' bus (memory, or EventBridge) around it."""
    from services.pipeline.events import pipeline_bus

    async with pipeline_bus(PipelineSettings()) as bus:
        return await work(bus)


# -- commands --------------------------------------------------------------------------


def _train_command(args: argparse.Namespace) -> int:
    from services.model.train.api import run_job

    configure_logging()
    return run_job(args)


def _run_command(args: argparse.Namespace) -> int:
    from services.model.train.api import load_hyperparameters, read_label_file
    from services.pipeline.run import RunOptions, run_pipeline

    configure_logging()
    settings = _settings(args, min_accuracy=args.min_accuracy)

    def action() -> int:
        hp = load_hyperparameters(args.hyperparameters).with_overrides(
            seed=args.seed, epochs=args.epochs, cv_folds=args.cv_folds
        )
        options = RunOptions(
            data=args.data,
            eval_data=args.eval_data,
            min_accuracy=settings.min_accuracy,
            deploy=not args.no_deploy,
            feedback=tuple(args.feedback),
            feedback_url=args.feedback_url,
            feedback_api_key=args.api_key,
            auto_approve=settings.auto_approve if args.auto_approve is None else args.auto_approve,
            labels=read_label_file(args.labels) if args.labels else None,
            overrides=args.overrides,
            hyperparameters=hp,
        )
        code, summary = asyncio.run(_with_bus(lambda bus: run_pipeline(options, settings, bus=bus)))
        _emit(summary)
        return code

    return _guarded(action)


def _export_command(args: argparse.Namespace) -> int:
    from services.pipeline.feedback import export_feedback

    configure_logging()

    def action() -> int:
        result = asyncio.run(export_feedback(args.was, args.out, api_key=args.api_key))
        _emit(
            {
                "out": str(args.out),
                "written": result.written,
                "kept": result.kept,
                "labels": result.labels,
                "skipped": result.skipped,
            }
        )
        return 0

    return _guarded(action)


def _registry(args: argparse.Namespace) -> Any:
    """The registry `--registry` (or KKOT_PIPELINE_REGISTRY_BACKEND) names."""
    from services.pipeline.registry import LocalRegistry, sagemaker_registry

    settings = _settings(args)
    if settings.registry_backend == SAGEMAKER:
        return sagemaker_registry(settings)
    return LocalRegistry(settings.registry_dir)


def _ls_command(args: argparse.Namespace) -> int:
    configure_logging()

    def action() -> int:
        registry = _registry(args)
        current = registry.deployment().current
        rows = []
        for model in registry.list_versions(args.group):
            deployed = current is not None and (current.group, current.version) == (
                model.group,
                model.version,
            )
            rows.append(
                {
                    "group": model.group,
                    "version": model.version,
                    "status": model.status.value,
                    "accuracy": model.metrics.get("accuracy"),
                    "created_at": model.created_at.isoformat(),
                    "deployed": deployed,
                }
            )
        _emit(rows)
        return 0

    return _guarded(action)


def _show_command(args: argparse.Namespace) -> int:
    configure_logging()

    def action() -> int:
        registry = _registry(args)
        settings = _settings(args)
        model = registry.get_version(settings.group, args.version)
        document = model.model_dump(mode="json")
        document["artifact_dir"] = registry.artifact_location(model)
        _emit(document)
        return 0

    return _guarded(action)


def _set_status(args: argparse.Namespace, status: Any) -> int:
    configure_logging()

    def action() -> int:
        settings = _settings(args)
        model = _registry(args).set_status(settings.group, args.version, status, args.reason)
        _emit(model.model_dump(mode="json"))
        return 0

    return _guarded(action)


def _approve_command(args: argparse.Namespace) -> int:
    from services.pipeline.registry import ApprovalStatus

    return _set_status(args, ApprovalStatus.APPROVED)


def _reject_command(args: argparse.Namespace) -> int:
    from services.pipeline.registry import ApprovalStatus

    return _set_status(args, ApprovalStatus.REJECTED)


def _deploy_command(args: argparse.Namespace) -> int:
    from services.pipeline.deploy import deploy_version

    configure_logging()

    def action() -> int:
        settings = _settings(args)
        registry = _registry(args)
        outcome = asyncio.run(
            _with_bus(
                lambda bus: deploy_version(
                    registry, settings, settings.group, args.version, bus=bus
                )
            )
        )
        _emit(outcome.summary())
        sys.stderr.write(outcome.message + "\n")
        return 0

    return _guarded(action)


def _rollback_command(args: argparse.Namespace) -> int:
    from services.pipeline.deploy import rollback

    configure_logging()

    def action() -> int:
        settings = _settings(args)
        registry = _registry(args)
        outcome = asyncio.run(_with_bus(lambda bus: rollback(registry, settings, bus=bus)))
        _emit(outcome.summary())
        sys.stderr.write(outcome.message + "\n")
        return 0

    return _guarded(action)
