"""`kkot aws deploy|status|destroy` and `kkot release model`.

    kkot aws deploy --stage S [--image-tag SHA] [--build-images] [--model-dir DIR]
                    [--data DIR] [--certificate-arn ARN] [--alarm-email ADDRESS]
                    [--delivery [--connection-arn ARN] [--repository OWNER/NAME]
                                [--branch B] [--source-provider CodeConnections|CodeCommit]]
    kkot aws status --stage S
    kkot aws destroy --stage S --yes
    kkot aws cost --rps N [--instance-type T] [--capacity FILE]   (no AWS calls)
    kkot release model --package-arn ARN [--stages staging,production]

AWS settings are the standard ones (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL and the
credential chain). Progress goes to stdout line by line. Exit codes: 0 done, 1 a step
failed or was refused (the reason on stderr), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from services.aws.errors import AwsCommandError

if TYPE_CHECKING:
    import boto3

__all__ = ["register"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_DIR = Path("var/models/default")
# The shared flowers dataset beside the project, when it is there.
SHARED_DATASET = PROJECT_ROOT.parent / "shared" / "datasets" / "flowers"


def register(subparsers: Any) -> None:
    """Add `aws` and `release` to the `kkot` command."""
    from cfn.naming import STAGES

    aws = subparsers.add_parser("aws", help="deploy, inspect and remove a stage on AWS")
    sub = aws.add_subparsers(dest="aws_command", required=True)

    deploy = sub.add_parser("deploy", help="deploy a stage's stacks (change sets)")
    deploy.add_argument("--stage", required=True, choices=STAGES)
    deploy.add_argument(
        "--image-tag", help="commit id the images are tagged with (already pushed to ECR)"
    )
    deploy.add_argument(
        "--build-images",
        action="store_true",
        help="build the images with docker and push them (tag: --image-tag, else HEAD)",
    )
    deploy.add_argument(
        "--model-dir",
        type=Path,
        help=f"model folder to serve (default {DEFAULT_MODEL_DIR}, on the first deploy only)",
    )
    deploy.add_argument(
        "--data", type=Path, help="training images, one folder per class (default: shared)"
    )
    deploy.add_argument("--certificate-arn", help="ACM certificate: serve HTTPS")
    deploy.add_argument(
        "--alarm-email", help="address told when an alarm fires or clears ('' for none)"
    )
    deploy.add_argument("--delivery", action="store_true", help="also the delivery stack")
    deploy.add_argument("--connection-arn", help="delivery: CodeConnections connection")
    deploy.add_argument("--repository", help="delivery: GitHub owner/name (or CodeCommit name)")
    deploy.add_argument("--branch", help="delivery: branch to release (default main)")
    deploy.add_argument(
        "--source-provider", choices=("CodeConnections", "CodeCommit"), help="delivery source"
    )
    deploy.set_defaults(func=_deploy)

    status = sub.add_parser("status", help="stacks, endpoint, model served, URL")
    status.add_argument("--stage", required=True, choices=STAGES)
    status.set_defaults(func=_status)

    destroy = sub.add_parser("destroy", help="remove every stack of a stage")
    destroy.add_argument("--stage", required=True, choices=STAGES)
    destroy.add_argument("--yes", action="store_true", help="really delete everything")
    destroy.set_defaults(func=_destroy)

    from services.aws.cost import register_cost

    register_cost(sub)

    release = subparsers.add_parser("release", help="release to the AWS stages")
    release_sub = release.add_subparsers(dest="release_command", required=True)
    model = release_sub.add_parser("model", help="an Approved model package to the stages")
    model.add_argument("--package-arn", required=True, help="the model package's ARN")
    model.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="comma- or space-separated, in order (default: %(default)s)",
    )
    model.set_defaults(func=_release)


def _guarded(args: argparse.Namespace, session: boto3.Session | None, command: Any) -> int:
    from services.aws.session import aws_session, region_of

    try:
        session = session or aws_session()
        region_of(session)
        code: int = command(args, session)
    except (AwsCommandError, BotoCoreError, ClientError) as exc:
        # One line the operator can act on (no credentials, access denied, ...), not a
        # traceback.
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return code


def _deploy(args: argparse.Namespace, session: boto3.Session | None = None) -> int:
    return _guarded(args, session, _run_deploy)


def _status(args: argparse.Namespace, session: boto3.Session | None = None) -> int:
    return _guarded(args, session, _run_status)


def _destroy(args: argparse.Namespace, session: boto3.Session | None = None) -> int:
    if not args.yes:
        sys.stderr.write(
            f"error: this deletes every stack, bucket and repository of {args.stage}; "
            "run again with --yes\n"
        )
        return 1
    return _guarded(args, session, _run_destroy)


def _release(args: argparse.Namespace, session: boto3.Session | None = None) -> int:
    return _guarded(args, session, _run_release)


def _run_deploy(args: argparse.Namespace, session: boto3.Session) -> int:
    from services.aws.console import say
    from services.aws.deploy import DeployOptions, deploy_stage

    data = (
        args.data
        if args.data is not None
        else (SHARED_DATASET if SHARED_DATASET.is_dir() else None)
    )
    delivery = {
        key: value
        for key, value in (
            ("ConnectionArn", args.connection_arn),
            ("FullRepositoryId", args.repository),
            ("BranchName", args.branch),
            ("SourceProvider", args.source_provider),
        )
        if value is not None
    }
    options = DeployOptions(
        stage=args.stage,
        image_tag=args.image_tag,
        build_images=args.build_images,
        model_dir=args.model_dir or DEFAULT_MODEL_DIR,
        model_dir_explicit=args.model_dir is not None,
        data_dir=data,
        certificate_arn=args.certificate_arn,
        alarm_email=args.alarm_email,
        delivery=args.delivery,
        delivery_parameters=delivery,
    )
    result = deploy_stage(session, options)
    if result.anything_changed:
        say(f"{args.stage}: changed {', '.join(result.changed)}")
    else:
        say(f"{args.stage}: no changes")
    say(f"url: {result.url or 'none'}")
    return 0


def _run_status(args: argparse.Namespace, session: boto3.Session) -> int:
    from services.aws.console import say
    from services.aws.status import format_status, stage_status

    for line in format_status(stage_status(session, args.stage)):
        say(line)
    return 0


def _run_destroy(args: argparse.Namespace, session: boto3.Session) -> int:
    from services.aws.console import say
    from services.aws.destroy import destroy_stage

    deleted = destroy_stage(session, args.stage)
    say(
        f"{args.stage}: {len(deleted)} stacks deleted"
        if deleted
        else f"{args.stage}: nothing to delete"
    )
    return 0


def _run_release(args: argparse.Namespace, session: boto3.Session) -> int:
    from services.aws.console import say
    from services.aws.release import parse_stages, release_model

    released = release_model(session, args.package_arn, parse_stages(args.stages))
    for stage in released:
        say(f"{stage.stage}: {stage.model_data_url} (model image {stage.image_tag})")
    return 0
