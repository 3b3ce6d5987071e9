"""The data-and-events and model templates: ECR, queues, table, buckets, the endpoint's
production size, blue/green with alarm rollback, autoscaling."""

from __future__ import annotations

from typing import Any

from tests.cfn.conftest import Template, resources_of_type


def test_ecr_repositories_are_immutable_and_scanned(templates: dict[str, Template]) -> None:
    repos = resources_of_type(templates["data-and-events"], "AWS::ECR::Repository")
    assert sorted(repos) == sorted(f"{n}Repository" for n in ("Gateway", "Web", "Was", "Model"))
    for repo in repos.values():
        p = repo["Properties"]
        assert p["ImageTagMutability"] == "IMMUTABLE"
        assert p["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert p["EncryptionConfiguration"]["EncryptionType"] == "KMS"
        assert "countNumber" in p["LifecyclePolicy"]["LifecyclePolicyText"]


def test_each_consumer_has_an_encrypted_queue_with_a_dead_letter_queue(
    templates: dict[str, Template],
) -> None:
    data = templates["data-and-events"]
    queues = resources_of_type(data, "AWS::SQS::Queue")
    for name in ("Was",):
        queue = queues[f"{name}Queue"]["Properties"]
        assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
            "Fn::GetAtt": [f"{name}DeadLetterQueue", "Arn"]
        }
        assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
        for q in (queue, queues[f"{name}DeadLetterQueue"]["Properties"]):
            assert q["KmsMasterKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
        (statement,) = data["Resources"][f"{name}QueuePolicy"]["Properties"]["PolicyDocument"][
            "Statement"
        ]
        assert statement["Principal"] == {"Service": ["events.amazonaws.com"]}
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
            "Fn::GetAtt": [f"{name}EventsRule", "Arn"]
        }
    assert data["Parameters"]["MaxReceiveCount"]["Default"] == 5


def test_rules_and_task_queues_cover_exactly_the_events_that_are_sent(
    templates: dict[str, Template],
) -> None:
    """Work goes to the one `was` queue; news every task must hear goes to each task's
    own fan-out queue (created at run time); what nobody consumes is neither routed
    nor sent (`model.registered`)."""
    from services.was.app import FANOUT_EVENT_TYPES as WAS_FANOUT
    from services.web.feeds import LIVE_EVENT_TYPES as WEB_FANOUT

    rules = resources_of_type(templates["data-and-events"], "AWS::Events::Rule")
    assert sorted(rules) == ["WasEventsRule"]
    was = rules["WasEventsRule"]["Properties"]
    assert was["EventBusName"] == {"Ref": "EventBus"}
    routed = set(was["EventPattern"]["detail-type"])
    assert routed == {"classification.requested"}
    fanned = {t.value for t in (*WAS_FANOUT, *WEB_FANOUT)}
    assert {t.value for t in WAS_FANOUT} == {"model.deployed"}
    assert routed | fanned == {
        "classification.requested",
        "classification.completed",
        "classification.failed",
        "classification.deleted",
        "model.deployed",
    }


def test_classification_table(templates: dict[str, Template]) -> None:
    table = templates["data-and-events"]["Resources"]["ClassificationsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    (index,) = table["GlobalSecondaryIndexes"]
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["kind", "created_at"]


def test_buckets_are_private_versioned_encrypted_and_tls_only(
    templates: dict[str, Template],
) -> None:
    seen = 0
    for template in templates.values():
        for logical, bucket in resources_of_type(template, "AWS::S3::Bucket").items():
            seen += 1
            p = bucket["Properties"]
            assert set(p["PublicAccessBlockConfiguration"].values()) == {True}, logical
            assert p["VersioningConfiguration"] == {"Status": "Enabled"}, logical
            assert p["BucketEncryption"]["ServerSideEncryptionConfiguration"], logical
            if logical != "AccessLogBucket":
                assert "LoggingConfiguration" in p, logical
            policy = template["Resources"][f"{logical}Policy"]["Properties"]["PolicyDocument"]
            deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
            assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, logical
    assert seen == 4  # access logs, images, models, pipeline artifacts


def _model(templates: dict[str, Template]) -> Template:
    return templates["model"]


def test_endpoint_has_at_least_two_instances_in_production(
    templates: dict[str, Template],
) -> None:
    model = _model(templates)
    assert model["Conditions"]["IsProduction"] == {"Fn::Equals": [{"Ref": "Stage"}, "production"]}
    (variant,) = model["Resources"]["FlowersEndpointConfig"]["Properties"]["ProductionVariants"]
    condition, in_production, elsewhere = variant["InitialInstanceCount"]["Fn::If"]
    assert condition == "IsProduction"
    production = model["Parameters"][in_production["Ref"]]
    assert production["MinValue"] >= 2 and production["Default"] >= 2
    assert model["Parameters"][elsewhere["Ref"]]["MinValue"] >= 1
    target = model["Resources"]["EndpointScalableTarget"]["Properties"]
    assert target["MinCapacity"] == variant["InitialInstanceCount"]


def test_endpoint_updates_blue_green_and_rolls_back_on_alarms(
    templates: dict[str, Template],
) -> None:
    model = _model(templates)
    config: dict[str, Any] = model["Resources"]["FlowersEndpoint"]["Properties"]["DeploymentConfig"]
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Fn::If"]
    assert routing[0] == "IsProduction"
    assert routing[1]["Type"] in {"CANARY", "LINEAR"}
    alarms = {a["AlarmName"]["Ref"] for a in config["AutoRollbackConfiguration"]["Alarms"]}
    assert alarms == {"ModelLatencyAlarm", "Invocation5xxAlarm"}
    metrics = {model["Resources"][a]["Properties"]["MetricName"] for a in alarms}
    assert metrics == {"ModelLatency", "Invocation5XXErrors"}


def test_endpoint_autoscaling_and_model_image(templates: dict[str, Template]) -> None:
    model = _model(templates)
    policy = model["Resources"]["EndpointInvocationsScaling"]["Properties"]
    spec = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert spec == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    container = model["Resources"]["FlowersModel"]["Properties"]["PrimaryContainer"]
    assert container["ModelDataUrl"] == {"Ref": "ModelDataUrl"}
    assert container["Image"]["Fn::Join"][1][1] == {"Ref": "ModelImageTag"}


def test_execution_role_may_describe_exactly_the_rollback_alarms(
    templates: dict[str, Template],
) -> None:
    # Deployment guardrails read the rollback alarms with the endpoint's execution role
    # (the model's ExecutionRoleArn); without cloudwatch:DescribeAlarms on them SageMaker
    # cannot roll a bad update back.
    model = templates["model"]
    resources = model["Resources"]
    endpoint = resources["FlowersEndpoint"]["Properties"]
    rollback = endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    names = [resources[a["AlarmName"]["Ref"]]["Properties"]["AlarmName"] for a in rollback]
    assert len(names) >= 2
    prefix = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
    expected = [{"Fn::Sub": prefix + n["Fn::Sub"]} for n in names]
    model_config = resources["FlowersModel"]["Properties"]
    (role_id, _) = model_config["ExecutionRoleArn"]["Fn::GetAtt"]
    statements = [
        s
        for policy in resources[role_id]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
        if "cloudwatch:DescribeAlarms" in s["Action"]
    ]
    assert [s["Resource"] for s in statements] == [expected]
    assert statements[0]["Effect"] == "Allow"
