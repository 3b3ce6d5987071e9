"""The boto3 session every AWS command uses, configured by the standard settings only.

boto3 reads `AWS_PROFILE`, the credential chain, `AWS_DEFAULT_REGION` and
`AWS_ENDPOINT_URL` itself. `AWS_REGION` is the variable the AWS CLI v2, CodeBuild and
the README use; botocore only reads `AWS_DEFAULT_REGION`, so `AWS_REGION` is passed on
here and wins, as it does for the CLI: stacks, buckets and images then land in one region.
"""

from __future__ import annotations

import os

import boto3
import botocore.session

from services.aws.errors import AwsCommandError
from shared.aws_config import with_default_config

__all__ = ["aws_session", "region_of"]


def aws_session() -> boto3.Session:
    """A session for the region in `AWS_REGION`, else boto3's own chain; its clients
    retry and time out as `shared.aws_config` says."""
    core = with_default_config(botocore.session.Session())
    return boto3.Session(botocore_session=core, region_name=os.environ.get("AWS_REGION") or None)


def region_of(session: boto3.Session) -> str:
    """The session's region; a clear error when none is configured."""
    if not session.region_name:
        raise AwsCommandError("no AWS region: set AWS_REGION (or a profile with a region)")
    return session.region_name
