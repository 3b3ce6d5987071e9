"""The data-and-events stack: the stage's KMS data key, the EventBridge bus with one
SQS queue (plus dead-letter queue) per consuming service, the classification table,
the image / model-artifact / access-log buckets and the ECR repositories.

The ECR repositories live here rather than in the application stack because images
must be pushed before the application stack creates services that pull them (and the
model stack needs the model image too)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from awacs.aws import ArnEquals, Condition, Principal, Statement, StringEquals
from troposphere import GetAtt, Parameter, Ref, Sub, Template
from troposphere.dynamodb import (
    AttributeDefinition,
    GlobalSecondaryIndex,
    KeySchema,
    PointInTimeRecoverySpecification,
    Projection,
    SSESpecification,
    Table,
)
from troposphere.events import DeadLetterConfig, EventBus, RetryPolicy, Rule, Target
from troposphere.sqs import Queue, QueuePolicy, RedrivePolicy

from cfn.common import checkov_skips, new_template
from cfn.kms import customer_key, key_alias, service_may_use_key
from cfn.naming import add_export, scoped
from cfn.policies import actions, document
from cfn.storage import add_private_bucket, ecr_repository

__all__ = ["IMAGES", "STACK", "build_data_and_events"]

STACK = "data-and-events"
# The deployable images, each with its own ECR repository.
IMAGES = ("gateway", "web", "was", "model")
MAX_RECEIVE_COUNT = 5


@dataclass(frozen=True)
class Consumer:
    """A service that consumes events through its own queue, and which event types."""

    name: str
    logical: str
    # EventBridge detail-type matchers: exact names or `{"prefix": ...}` patterns.
    detail_types: tuple[str | dict[str, str], ...]


# Work queues only: each message to ONE task. WAS runs the background classifications
# (`classification.requested`). Events every task must hear have no queue here: each
# task creates its own at start (shared/events/fanout.py) — WAS for `model.deployed`
# (re-describe the endpoint), web for `classification.completed` / `.failed` (live
# history) — because ECS tasks come and go. Nothing consumes `model.registered`, so no
# rule routes it.
CONSUMERS = (Consumer("was", "Was", ("classification.requested",)),)


def build_data_and_events() -> Template:
    """KMS key, buckets, table, event bus, queues, rules and ECR repositories."""
    t = new_template("kkot data and events: EventBridge bus, SQS queues, DynamoDB, S3, ECR")
    max_receive = t.add_parameter(
        Parameter(
            "MaxReceiveCount",
            Type="Number",
            Default=MAX_RECEIVE_COUNT,
            MinValue=1,
            MaxValue=20,
            Description="Deliveries of one message before it moves to the dead-letter queue",
        )
    )

    # EventBridge must be able to encrypt what it sends into the queues.
    data_key = t.add_resource(
        customer_key(
            "DataKey",
            "kkot data: buckets, table, queues, images",
            [
                service_may_use_key(
                    "EventBridgeUseKey",
                    "events.amazonaws.com",
                    Condition(StringEquals({"aws:SourceAccount": Sub("${AWS::AccountId}")})),
                )
            ],
        )
    )
    t.add_resource(key_alias("DataKeyAlias", data_key, "data"))
    key_arn = GetAtt(data_key, "Arn")

    log_bucket = add_private_bucket(
        t,
        "AccessLogBucket",
        kms_key_arn=None,
        log_bucket=None,
        extra_statements=(
            Statement(
                Sid="S3ServerAccessLogs",
                Effect="Allow",
                Principal=Principal("Service", ["logging.s3.amazonaws.com"]),
                Action=actions("s3", "PutObject"),
                Resource=[Sub("${AccessLogBucket.Arn}/s3/*")],
                Condition=Condition(StringEquals({"aws:SourceAccount": Sub("${AWS::AccountId}")})),
            ),
        ),
        metadata=checkov_skips(
            ("CKV_AWS_18", "this is the access-log bucket; logging it into itself would loop"),
        ),
    )
    images = add_private_bucket(t, "ImagesBucket", key_arn, Ref(log_bucket))
    models = add_private_bucket(t, "ModelsBucket", key_arn, Ref(log_bucket))

    table = t.add_resource(
        Table(
            "ClassificationsTable",
            TableName=scoped("classifications"),
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                AttributeDefinition(AttributeName="pk", AttributeType="S"),
                AttributeDefinition(AttributeName="kind", AttributeType="S"),
                AttributeDefinition(AttributeName="created_at", AttributeType="S"),
            ],
            KeySchema=[KeySchema(AttributeName="pk", KeyType="HASH")],
            # Listing by time: every record carries the same `kind`, sorted by creation.
            GlobalSecondaryIndexes=[
                GlobalSecondaryIndex(
                    IndexName="by-time",
                    KeySchema=[
                        KeySchema(AttributeName="kind", KeyType="HASH"),
                        KeySchema(AttributeName="created_at", KeyType="RANGE"),
                    ],
                    Projection=Projection(ProjectionType="ALL"),
                )
            ],
            PointInTimeRecoverySpecification=PointInTimeRecoverySpecification(
                PointInTimeRecoveryEnabled=True
            ),
            SSESpecification=SSESpecification(
                SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=key_arn
            ),
            DeletionProtectionEnabled=True,
        )
    )

    bus = t.add_resource(EventBus("EventBus", Name=scoped("events")))
    for consumer in CONSUMERS:
        add_consumer_queue(t, consumer, bus, key_arn, Ref(max_receive))

    for image in IMAGES:
        repo = t.add_resource(
            ecr_repository(f"{image.capitalize()}Repository", scoped(image), key_arn)
        )
        cap = image.capitalize()
        add_export(t, STACK, f"{cap}RepositoryName", Ref(repo), f"ECR repository of {image}")
        add_export(t, STACK, f"{cap}RepositoryArn", GetAtt(repo, "Arn"), f"ECR ARN of {image}")
        add_export(
            t, STACK, f"{cap}RepositoryUri", GetAtt(repo, "RepositoryUri"), f"ECR URI of {image}"
        )

    add_export(t, STACK, "DataKeyArn", key_arn, "KMS key of the stage's data")
    add_export(t, STACK, "AccessLogBucketName", Ref(log_bucket), "S3 access-log bucket")
    add_export(t, STACK, "ImagesBucketName", Ref(images), "Uploaded images")
    add_export(t, STACK, "ImagesBucketArn", GetAtt(images, "Arn"), "Uploaded images (ARN)")
    add_export(t, STACK, "ModelsBucketName", Ref(models), "Model artifacts")
    add_export(t, STACK, "ModelsBucketArn", GetAtt(models, "Arn"), "Model artifacts (ARN)")
    add_export(t, STACK, "TableName", Ref(table), "Classification records")
    add_export(t, STACK, "TableArn", GetAtt(table, "Arn"), "Classification records (ARN)")
    add_export(t, STACK, "EventBusName", Ref(bus), "The event bus")
    add_export(t, STACK, "EventBusArn", GetAtt(bus, "Arn"), "The event bus (ARN)")
    return t


def add_consumer_queue(
    t: Template, consumer: Consumer, bus: EventBus, key_arn: GetAtt, max_receive: Ref
) -> None:
    """The consumer's queue and dead-letter queue, the rule routing its event types from
    the bus, and queue policies that let only that rule send."""
    name = consumer.logical
    dlq = t.add_resource(
        Queue(
            f"{name}DeadLetterQueue",
            QueueName=scoped(f"{consumer.name}-dlq"),
            KmsMasterKeyId=key_arn,
            MessageRetentionPeriod=1_209_600,  # 14 days, the maximum: time to look and redrive
        )
    )
    queue = t.add_resource(
        Queue(
            f"{name}Queue",
            QueueName=scoped(consumer.name),
            KmsMasterKeyId=key_arn,
            KmsDataKeyReusePeriodSeconds=300,
            VisibilityTimeout=60,
            ReceiveMessageWaitTimeSeconds=20,  # long polling
            RedrivePolicy=RedrivePolicy(
                deadLetterTargetArn=GetAtt(dlq, "Arn"), maxReceiveCount=max_receive
            ),
        )
    )
    pattern = {
        "source": [{"prefix": "kkot."}],
        "detail-type": sorted(consumer.detail_types, key=lambda m: json.dumps(m, sort_keys=True)),
    }
    rule = t.add_resource(
        Rule(
            f"{name}EventsRule",
            Description=f"kkot events consumed by {consumer.name}",
            EventBusName=Ref(bus),
            EventPattern=pattern,
            State="ENABLED",
            Targets=[
                Target(
                    Id=f"{consumer.name}-queue",
                    Arn=GetAtt(queue, "Arn"),
                    # Events EventBridge could not deliver land in the DLQ too.
                    DeadLetterConfig=DeadLetterConfig(Arn=GetAtt(dlq, "Arn")),
                    RetryPolicy=RetryPolicy(MaximumEventAgeInSeconds=3600, MaximumRetryAttempts=20),
                )
            ],
        )
    )
    t.add_resource(
        QueuePolicy(
            f"{name}QueuePolicy",
            Queues=[Ref(queue), Ref(dlq)],
            PolicyDocument=document(
                Statement(
                    Sid="OnlyTheBusRuleSends",
                    Effect="Allow",
                    Principal=Principal("Service", ["events.amazonaws.com"]),
                    Action=actions("sqs", "SendMessage"),
                    Resource=[GetAtt(queue, "Arn"), GetAtt(dlq, "Arn")],
                    Condition=Condition(ArnEquals("aws:SourceArn", GetAtt(rule, "Arn"))),
                )
            ),
        )
    )
    add_export(t, STACK, f"{name}QueueUrl", Ref(queue), f"Queue of {consumer.name}")
    add_export(t, STACK, f"{name}QueueArn", GetAtt(queue, "Arn"), f"Queue of {consumer.name} (ARN)")
    add_export(t, STACK, f"{name}DeadLetterQueueArn", GetAtt(dlq, "Arn"), f"DLQ of {consumer.name}")
