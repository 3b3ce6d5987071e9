"""S3 buckets the way every kkot bucket is made: private, versioned, encrypted, TLS only,
access-logged; and the ECR repository shape shared by every image."""

from __future__ import annotations

import json

from awacs.aws import Bool, Condition, Deny, Principal, Statement
from troposphere import AWSHelperFn, GetAtt, Ref, Sub, Template
from troposphere.ecr import (
    EncryptionConfiguration,
    ImageScanningConfiguration,
    LifecyclePolicy,
    Repository,
)
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
    Bucket,
    BucketEncryption,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    LoggingConfiguration,
    NoncurrentVersionExpiration,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)

from cfn.policies import actions, document

__all__ = ["add_private_bucket", "ecr_repository", "tls_only_statement"]

KEEP_IMAGES = 30


def tls_only_statement(bucket: Bucket) -> Statement:
    """Deny any request to the bucket that does not come over TLS."""
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Principal=Principal("*"),
        Action=actions("s3", "*"),
        Resource=[GetAtt(bucket, "Arn"), Sub(f"${{{bucket.title}.Arn}}/*")],
        Condition=Condition(Bool("aws:SecureTransport", "false")),
    )


def add_private_bucket(
    t: Template,
    logical_id: str,
    kms_key_arn: AWSHelperFn | None,
    log_bucket: AWSHelperFn | None,
    *,
    extra_statements: tuple[Statement, ...] = (),
    metadata: dict[str, object] | None = None,
) -> Bucket:
    """A bucket with public access blocked, versioning, SSE (KMS when a key is given),
    access logging into `log_bucket`, and a TLS-only bucket policy."""
    if kms_key_arn is not None:
        default = ServerSideEncryptionByDefault(SSEAlgorithm="aws:kms", KMSMasterKeyID=kms_key_arn)
    else:
        default = ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
    kwargs: dict[str, object] = {
        "BucketEncryption": BucketEncryption(
            ServerSideEncryptionConfiguration=[
                ServerSideEncryptionRule(
                    ServerSideEncryptionByDefault=default,
                    BucketKeyEnabled=kms_key_arn is not None,
                )
            ]
        ),
        "PublicAccessBlockConfiguration": PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        "VersioningConfiguration": VersioningConfiguration(Status="Enabled"),
        "OwnershipControls": OwnershipControls(
            Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
        # Old versions are kept long enough to undo a mistake, not forever.
        "LifecycleConfiguration": LifecycleConfiguration(
            Rules=[
                LifecycleRule(
                    Id="expire-noncurrent-versions",
                    Status="Enabled",
                    NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=90),
                    AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                        DaysAfterInitiation=7
                    ),
                )
            ]
        ),
    }
    if log_bucket is not None:
        kwargs["LoggingConfiguration"] = LoggingConfiguration(
            DestinationBucketName=log_bucket, LogFilePrefix=f"s3/{logical_id}/"
        )
    bucket = t.add_resource(Bucket(logical_id, **kwargs))
    if metadata:
        bucket.Metadata = metadata
    t.add_resource(
        BucketPolicy(
            f"{logical_id}Policy",
            Bucket=Ref(bucket),
            PolicyDocument=document(tls_only_statement(bucket), *extra_statements),
        )
    )
    return bucket


def ecr_repository(logical_id: str, name: AWSHelperFn, kms_key_arn: AWSHelperFn) -> Repository:
    """An ECR repository: immutable tags (a commit id always means one image), scan on
    push, KMS encryption, and a lifecycle policy that keeps the last images."""
    lifecycle = {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"keep the last {KEEP_IMAGES} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": KEEP_IMAGES,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    return Repository(
        logical_id,
        RepositoryName=name,
        ImageTagMutability="IMMUTABLE",
        ImageScanningConfiguration=ImageScanningConfiguration(ScanOnPush=True),
        EncryptionConfiguration=EncryptionConfiguration(EncryptionType="KMS", KmsKey=kms_key_arn),
        LifecyclePolicy=LifecyclePolicy(LifecyclePolicyText=json.dumps(lifecycle, sort_keys=True)),
    )
