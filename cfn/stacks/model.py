"""The model stack: the SageMaker model (the project's model image from ECR and a
model.tar.gz in the models bucket), its endpoint config and endpoint, blue/green
updates that roll back automatically on CloudWatch alarms, and endpoint autoscaling.

The endpoint has a fixed name so WAS's task role can name its ARN and the alarms can
watch it without a circular reference."""

from __future__ import annotations

from troposphere import (
    AWSProperty,
    Equals,
    GetAtt,
    If,
    Join,
    NoValue,
    Output,
    Parameter,
    Ref,
    Sub,
    Template,
)
from troposphere.applicationautoscaling import (
    PredefinedMetricSpecification,
    ScalableTarget,
    ScalingPolicy,
    TargetTrackingScalingPolicyConfiguration,
)
from troposphere.cloudwatch import Alarm, MetricDimension
from troposphere.iam import Policy, Role
from troposphere.sagemaker import (
    Alarm as RollbackAlarm,
)
from troposphere.sagemaker import (
    AutoRollbackConfig,
    BlueGreenUpdatePolicy,
    CapacitySize,
    CaptureContentTypeHeader,
    CaptureOption,
    ContainerDefinition,
    DeploymentConfig,
    Endpoint,
    EndpointConfig,
    Model,
    ProductionVariant,
    TrafficRoutingConfig,
)

from cfn.capacity import Capacity, endpoint_sizing, load_capacity
from cfn.common import add_is_production, new_template
from cfn.monitoring import metrics_environment
from cfn.naming import add_export, import_value, scoped
from cfn.policies import actions, allow, arn, assume_role_policy, document

__all__ = ["ENDPOINT_NAME", "STACK", "VARIANT", "build_model"]

STACK = "model"
DATA = "data-and-events"
VARIANT = "AllTraffic"
# `kkot-${Stage}-flowers`: fixed so roles and alarms can name it before it exists.
ENDPOINT_NAME = "kkot-${Stage}-flowers"
# The alarms that roll a blue/green update back (logical id -> name); the execution role
# may describe exactly these.
ROLLBACK_ALARMS = {
    "ModelLatencyAlarm": f"{ENDPOINT_NAME}-model-latency",
    "Invocation5xxAlarm": f"{ENDPOINT_NAME}-invocation-5xx",
}


class EndpointDataCaptureConfig(AWSProperty):  # type: ignore[misc]
    """EndpointConfig's DataCaptureConfig. troposphere 4.x defines a TransformJob class of
    the same name later in `troposphere.sagemaker`, which shadows the endpoint's one."""

    props = {  # noqa: RUF012 - troposphere's declared shape
        "CaptureContentTypeHeader": (CaptureContentTypeHeader, False),
        "CaptureOptions": ([CaptureOption], True),
        "DestinationS3Uri": (str, True),
        "EnableCapture": (bool, False),
        "InitialSamplingPercentage": (int, True),
        "KmsKeyId": (str, False),
    }


def build_model(capacity: Capacity | None = None) -> Template:
    """SageMaker model, endpoint config, endpoint, rollback alarms and autoscaling; the
    instance type, counts and scaling target default to what `capacity` (the capacity
    file, cfn/capacity.json unless given) derives."""
    sizing = endpoint_sizing(capacity or load_capacity())
    t = new_template("kkot model: SageMaker model, endpoint (blue/green, autoscaling)")
    is_production = add_is_production(t)
    image_tag = t.add_parameter(
        Parameter(
            "ModelImageTag",
            Type="String",
            AllowedPattern="^[0-9a-f]{7,40}$",
            Description="Commit id the model image is tagged with (never `latest`)",
        )
    )
    model_data = t.add_parameter(
        Parameter(
            "ModelDataUrl",
            Type="String",
            AllowedPattern="^s3://.+\\.tar\\.gz$",
            Description="s3:// URL of the model.tar.gz to serve",
        )
    )
    instance_type = t.add_parameter(
        Parameter(
            "InstanceType",
            Type="String",
            Default=sizing.instance_type,
            Description="Instance type (the scaling target below is derived for the default)",
        )
    )
    instance_count = t.add_parameter(
        Parameter(
            "InstanceCount",
            Type="Number",
            Default=1,
            MinValue=1,
            Description="Instances outside production",
        )
    )
    production_count = t.add_parameter(
        Parameter(
            "ProductionInstanceCount",
            Type="Number",
            Default=sizing.production_min,
            MinValue=2,
            Description="Instances in production (at least two, one per AZ)",
        )
    )
    max_count = t.add_parameter(
        Parameter(
            "MaxInstanceCount",
            Type="Number",
            Default=sizing.max_count,
            MinValue=2,
            Description="Autoscaling max (carries the capacity file's design peak)",
        )
    )
    invocations_target = t.add_parameter(
        Parameter(
            "InvocationsPerInstanceTarget",
            Type="Number",
            Default=sizing.target_per_minute,
            MinValue=1,
            Description="Target invocations per instance per minute (from measured capacity)",
        )
    )
    latency_threshold = t.add_parameter(
        Parameter(
            "ModelLatencyThresholdMicroseconds",
            Type="Number",
            Default=500_000,
            MinValue=1000,
            Description="Average model latency that fails a deployment (microseconds)",
        )
    )
    data_capture = t.add_parameter(
        Parameter(
            "DataCapture",
            Type="String",
            AllowedValues=["enabled", "disabled"],
            Default="disabled",
            Description="Capture requests and responses into the models bucket",
        )
    )
    t.add_condition("CaptureData", Equals(Ref(data_capture), "enabled"))

    key_arn = import_value(DATA, "DataKeyArn")
    models_arn = import_value(DATA, "ModelsBucketArn")
    role = t.add_resource(
        Role(
            "SageMakerExecutionRole",
            Path="/kkot/",
            AssumeRolePolicyDocument=assume_role_policy("sagemaker.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName="serve-model",
                    PolicyDocument=document(
                        allow(actions("s3", "GetObject"), [Join("", [models_arn, "/*"])]),
                        allow(actions("s3", "ListBucket"), [models_arn]),
                        allow(
                            actions("s3", "PutObject"), [Join("", [models_arn, "/data-capture/*"])]
                        ),
                        allow(
                            actions(
                                "ecr",
                                "BatchGetImage",
                                "GetDownloadUrlForLayer",
                                "BatchCheckLayerAvailability",
                            ),
                            [import_value(DATA, "ModelRepositoryArn")],
                        ),
                        # GetAuthorizationToken only works on "*" (see tests/cfn/test_iam.py).
                        allow(actions("ecr", "GetAuthorizationToken"), ["*"]),
                        allow(
                            actions("logs", "CreateLogGroup", "CreateLogStream", "PutLogEvents"),
                            [arn("logs", "log-group:/aws/sagemaker/*")],
                        ),
                        allow(actions("kms", "Decrypt", "GenerateDataKey"), [key_arn]),
                        # Deployment guardrails read the rollback alarms with the
                        # endpoint's *execution role* (the model's ExecutionRoleArn; an
                        # endpoint has no role of its own): "Ensure that your IAM execution
                        # role has permission to perform the cloudwatch:DescribeAlarms
                        # action on the auto-rollback alarms you specify"
                        # (docs.aws.amazon.com/sagemaker/latest/dg/
                        # deployment-guardrails-configuration.html). DescribeAlarms takes
                        # the `alarm` resource type (Service Authorization Reference,
                        # CloudWatch), so it names exactly this endpoint's alarms.
                        allow(
                            actions("cloudwatch", "DescribeAlarms"),
                            [arn("cloudwatch", f"alarm:{n}") for n in ROLLBACK_ALARMS.values()],
                        ),
                    ),
                )
            ],
        )
    )
    model = t.add_resource(
        Model(
            "FlowersModel",
            ExecutionRoleArn=GetAtt(role, "Arn"),
            # The server needs nothing from the network: SageMaker fetches the artifact.
            EnableNetworkIsolation=True,
            PrimaryContainer=ContainerDefinition(
                Image=Join(":", [import_value(DATA, "ModelRepositoryUri"), Ref(image_tag)]),
                ModelDataUrl=Ref(model_data),
                Mode="SingleModel",
                # The server's metrics reach CloudWatch as EMF lines in the endpoint's
                # log (cfn/monitoring.py has the alarms and the dashboard).
                Environment={
                    f"KKOT_MODEL_{name}": value
                    for name, value in {**metrics_environment(), "LOG_FORMAT": "json"}.items()
                },
            ),
        )
    )
    endpoint_config = t.add_resource(
        EndpointConfig(
            "FlowersEndpointConfig",
            KmsKeyId=key_arn,
            ProductionVariants=[
                ProductionVariant(
                    VariantName=VARIANT,
                    ModelName=GetAtt(model, "ModelName"),
                    InstanceType=Ref(instance_type),
                    InitialInstanceCount=If(
                        is_production, Ref(production_count), Ref(instance_count)
                    ),
                    InitialVariantWeight=1.0,
                )
            ],
            DataCaptureConfig=If(
                "CaptureData",
                EndpointDataCaptureConfig(
                    EnableCapture=True,
                    InitialSamplingPercentage=10,
                    DestinationS3Uri=Sub(
                        "s3://${Bucket}/data-capture",
                        Bucket=import_value(DATA, "ModelsBucketName"),
                    ),
                    KmsKeyId=key_arn,
                    CaptureOptions=[
                        CaptureOption(CaptureMode="Input"),
                        CaptureOption(CaptureMode="Output"),
                    ],
                    CaptureContentTypeHeader=CaptureContentTypeHeader(
                        JsonContentTypes=["application/json"]
                    ),
                ),
                NoValue,
            ),
        )
    )

    alarms = [
        t.add_resource(
            Alarm(
                "ModelLatencyAlarm",
                AlarmName=Sub(ROLLBACK_ALARMS["ModelLatencyAlarm"]),
                AlarmDescription="Average model latency above the threshold: roll back",
                Namespace="AWS/SageMaker",
                MetricName="ModelLatency",
                Dimensions=endpoint_dimensions(),
                Statistic="Average",
                Period=60,
                EvaluationPeriods=2,
                Threshold=Ref(latency_threshold),
                ComparisonOperator="GreaterThanThreshold",
                TreatMissingData="notBreaching",
            )
        ),
        t.add_resource(
            Alarm(
                "Invocation5xxAlarm",
                AlarmName=Sub(ROLLBACK_ALARMS["Invocation5xxAlarm"]),
                AlarmDescription="The model container answers 5xx: roll back",
                Namespace="AWS/SageMaker",
                MetricName="Invocation5XXErrors",
                Dimensions=endpoint_dimensions(),
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=0,
                ComparisonOperator="GreaterThanThreshold",
                TreatMissingData="notBreaching",
            )
        ),
    ]

    # Production shifts a canary of half the fleet first and bakes; staging (one
    # instance) shifts all at once but still bakes with the alarms armed.
    traffic = If(
        is_production,
        TrafficRoutingConfig(
            Type="CANARY",
            CanarySize=CapacitySize(Type="CAPACITY_PERCENT", Value=50),
            WaitIntervalInSeconds=300,
        ),
        TrafficRoutingConfig(Type="ALL_AT_ONCE", WaitIntervalInSeconds=0),
    )
    endpoint = t.add_resource(
        Endpoint(
            "FlowersEndpoint",
            EndpointName=Sub(ENDPOINT_NAME),
            EndpointConfigName=GetAtt(endpoint_config, "EndpointConfigName"),
            DeploymentConfig=DeploymentConfig(
                BlueGreenUpdatePolicy=BlueGreenUpdatePolicy(
                    TrafficRoutingConfiguration=traffic,
                    TerminationWaitInSeconds=600,
                    MaximumExecutionTimeoutInSeconds=3600,
                ),
                AutoRollbackConfiguration=AutoRollbackConfig(
                    Alarms=[RollbackAlarm(AlarmName=Ref(alarm)) for alarm in alarms]
                ),
            ),
        )
    )

    target = t.add_resource(
        ScalableTarget(
            "EndpointScalableTarget",
            DependsOn=endpoint.title,
            ServiceNamespace="sagemaker",
            ResourceId=Sub(f"endpoint/{ENDPOINT_NAME}/variant/{VARIANT}"),
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            MinCapacity=If(is_production, Ref(production_count), Ref(instance_count)),
            MaxCapacity=Ref(max_count),
        )
    )
    t.add_resource(
        ScalingPolicy(
            "EndpointInvocationsScaling",
            PolicyName=scoped("endpoint-invocations"),
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=Ref(target),
            TargetTrackingScalingPolicyConfiguration=TargetTrackingScalingPolicyConfiguration(
                TargetValue=Ref(invocations_target),
                PredefinedMetricSpecification=PredefinedMetricSpecification(
                    PredefinedMetricType="SageMakerVariantInvocationsPerInstance"
                ),
                ScaleInCooldown=300,
                ScaleOutCooldown=60,
            ),
        )
    )

    add_export(t, STACK, "EndpointName", GetAtt(endpoint, "EndpointName"), "SageMaker endpoint")
    add_export(t, STACK, "EndpointArn", Ref(endpoint), "SageMaker endpoint ARN")
    add_export(t, STACK, "ExecutionRoleArn", GetAtt(role, "Arn"), "SageMaker execution role")
    t.add_output(Output("ModelName", Value=GetAtt(model, "ModelName"), Description="Model"))
    return t


def endpoint_dimensions() -> list[MetricDimension]:
    """The CloudWatch dimensions of the endpoint's variant."""
    return [
        MetricDimension(Name="EndpointName", Value=Sub(ENDPOINT_NAME)),
        MetricDimension(Name="VariantName", Value=VARIANT),
    ]
