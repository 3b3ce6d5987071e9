"""`kkot ci push-images` and `kkot ci start-model-pipeline`: what ci/buildspec-build.yml
and ci/buildspec-model.yml run; and `kkot ci lock` (services.ci.lock), what `make lock`
runs. AWS settings come from the standard environment (AWS_REGION, AWS_PROFILE,
AWS_ENDPOINT_URL) through the session every `kkot aws` command uses (services.aws.session:
AWS_REGION wins over AWS_DEFAULT_REGION). The result is one JSON document on stdout; exit
code 1 with the reason on stderr when a step fails (ours, or AWS's error message)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from services.aws.session import aws_session
from services.ci.errors import CiError
from services.ci.images import Docker, push_images
from services.ci.lock import register as register_lock
from services.ci.model_pipeline import start_model_pipeline

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add `ci push-images`, `ci start-model-pipeline` and `ci lock` to the `kkot` command."""
    ci = subparsers.add_parser("ci", help="the steps of the CodeBuild projects (ci/*.yml)")
    sub = ci.add_subparsers(dest="ci_command", required=True)

    push = sub.add_parser("push-images", help="build once, push to every stage's ECR")
    push.add_argument("--tag", required=True, help="commit id the images are tagged with")
    push.add_argument("--stages", required=True, help='e.g. "staging production"')
    push.add_argument("--images", required=True, help='e.g. "gateway web was"')
    push.add_argument("--imagedefinitions", type=Path, help="write the ECS deploy files here")
    push.add_argument("--context", default=".", help="docker build context (default .)")
    push.add_argument("--dry-run", action="store_true", help="print docker commands only")
    push.set_defaults(func=_push_images)

    start = sub.add_parser("start-model-pipeline", help="start the SageMaker pipeline")
    start.add_argument("--pipeline", required=True, help="SageMaker pipeline name")
    start.add_argument("--package-group", required=True, help="model package group name")
    start.add_argument("--stage", required=True, help="whose model repository it pulls from")
    start.add_argument("--tag", required=True, help="commit id of the model images")
    start.set_defaults(func=_start_model_pipeline)

    register_lock(sub)


def _push_images(args: argparse.Namespace) -> int:
    docker = Docker(dry_run=args.dry_run)
    try:
        report = push_images(
            aws_session().client("ecr"),
            docker,
            args.images.split(),
            args.tag,
            args.stages.split(),
            definitions_dir=args.imagedefinitions,
            context=args.context,
        )
    except (CiError, ClientError, BotoCoreError) as exc:
        sys.stderr.write(f"kkot ci push-images: {exc}\n")
        return 1
    result: dict[str, Any] = {"images": [asdict(p) for p in report]}
    if args.dry_run:
        result["docker"] = docker.commands
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


def _start_model_pipeline(args: argparse.Namespace) -> int:
    session = aws_session()
    try:
        started = start_model_pipeline(
            session.client("sagemaker"),
            session.client("s3"),
            session.client("ecr"),
            pipeline=args.pipeline,
            group=args.package_group,
            stage=args.stage,
            tag=args.tag,
        )
    except (CiError, ClientError, BotoCoreError) as exc:
        sys.stderr.write(f"kkot ci start-model-pipeline: {exc}\n")
        return 1
    sys.stdout.write(json.dumps(asdict(started), indent=2) + "\n")
    return 0
