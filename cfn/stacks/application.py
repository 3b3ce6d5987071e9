"""The application stack: the ECS cluster `AppEcsCluster`, Fargate services for gateway,
web and WAS in the private subnets, the internet-facing ALB in front of the gateway,
security groups chained least-privilege, CPU target-tracking autoscaling, log groups
and IAM roles.

The gateway is the one public entry point. It reaches web and WAS through ECS Service
Connect (names `web` and `was` in the stage's namespace) rather than plain Cloud Map
DNS: the Service Connect proxy balances per request, retries on connection failures,
drains tasks during deployments and reports per-service metrics, and nothing depends on
a client honouring DNS TTLs."""

from __future__ import annotations

from dataclasses import dataclass

from awacs.aws import Statement
from troposphere import (
    Equals,
    GetAtt,
    If,
    Join,
    Not,
    Output,
    Parameter,
    Ref,
    Split,
    Sub,
    Template,
)
from troposphere.applicationautoscaling import (
    PredefinedMetricSpecification,
    ScalableTarget,
    ScalingPolicy,
    TargetTrackingScalingPolicyConfiguration,
)
from troposphere.ec2 import SecurityGroup, SecurityGroupIngress, SecurityGroupRule
from troposphere.ecs import (
    AwsvpcConfiguration,
    Cluster,
    ClusterSetting,
    ContainerDefinition,
    DeploymentCircuitBreaker,
    DeploymentConfiguration,
    Environment,
    HealthCheck,
    LoadBalancer,
    LogConfiguration,
    MountPoint,
    NetworkConfiguration,
    PortMapping,
    RuntimePlatform,
    Service,
    ServiceConnectClientAlias,
    ServiceConnectConfiguration,
    ServiceConnectService,
    TaskDefinition,
    Volume,
)
from troposphere.elasticloadbalancingv2 import (
    Action,
    Certificate,
    Listener,
    LoadBalancerAttributes,
    Matcher,
    RedirectConfig,
    TargetGroup,
    TargetGroupAttribute,
)
from troposphere.elasticloadbalancingv2 import (
    LoadBalancer as ApplicationLoadBalancer,
)
from troposphere.iam import Policy, Role
from troposphere.logs import LogGroup
from troposphere.servicediscovery import HttpNamespace

from cfn.capacity import Capacity, load_capacity, task_sizing
from cfn.common import add_is_production, checkov_skips, new_template
from cfn.monitoring import GATEWAY_METRICS_PORT, add_monitoring, metrics_environment
from cfn.naming import add_export, import_value, scoped
from cfn.policies import actions, allow, arn, assume_role_policy, document
from cfn.stacks.model import ENDPOINT_NAME

__all__ = ["SERVICES", "STACK", "build_application"]

STACK = "application"
NETWORK = "network"
DATA = "data-and-events"
MODEL = "model"
ANYWHERE = "0.0.0.0/0"
HTTPS = 443
HTTPS_LISTENER = "HttpsListener"


@dataclass(frozen=True)
class AppService:
    """One Fargate service: its short name, CloudFormation prefix, ECS name and port."""

    name: str
    logical: str
    service_name: str
    port: int


# Names and ports of the tutorial's task definitions and target groups (web 8000, WAS
# 8081); the gateway in front listens on 8080.
GATEWAY = AppService("gateway", "Gateway", "app-gateway-service", 8080)
WEB = AppService("web", "Web", "app-web-service", 8000)
WAS = AppService("was", "Was", "app-was-service", 8081)
SERVICES = (GATEWAY, WEB, WAS)


def build_application(capacity: Capacity | None = None) -> Template:
    """Cluster, ALB, security groups, roles, task definitions, services, autoscaling; the
    task size defaults to what `capacity` (cfn/capacity.json unless given) derives."""
    t = new_template("kkot application: ECS Fargate services behind an ALB")
    is_production = add_is_production(t)
    params = add_parameters(t, capacity or load_capacity())
    t.add_condition("HasCertificate", Not(Equals(Ref(params["CertificateArn"]), "")))

    vpc_id = import_value(NETWORK, "VpcId")
    groups = add_security_groups(t, vpc_id)

    cluster = t.add_resource(
        Cluster(
            "AppEcsCluster",
            ClusterName=Sub("AppEcsCluster-${Stage}"),
            ClusterSettings=[ClusterSetting(Name="containerInsights", Value="enabled")],
        )
    )
    namespace = t.add_resource(
        HttpNamespace(
            "ServiceConnectNamespace",
            Name=Sub("kkot-${Stage}.internal"),
            Description="Service Connect names of the stage's services",
        )
    )

    target_group = add_load_balancer(t, groups, vpc_id, params, is_production)
    execution_role = add_execution_role(t)
    task_roles = add_task_roles(t)

    services: dict[str, Service] = {}
    # Web and WAS first: the gateway's Service Connect client needs their names.
    for spec in (WEB, WAS, GATEWAY):
        log_group = t.add_resource(
            LogGroup(
                f"{spec.logical}LogGroup",
                LogGroupName=Sub(f"/kkot/${{Stage}}/{spec.name}"),
                RetentionInDays=Ref(params["LogRetentionDays"]),
                KmsKeyId=import_value(NETWORK, "LogsKeyArn"),
            )
        )
        task = t.add_resource(
            task_definition(spec, params, execution_role, task_roles[spec.name], log_group)
        )
        service = Service(
            f"{spec.logical}Service",
            ServiceName=spec.service_name,
            Cluster=Ref(cluster),
            TaskDefinition=Ref(task),
            LaunchType="FARGATE",
            PlatformVersion="LATEST",
            DesiredCount=Ref(params["MinCapacity"]),
            EnableExecuteCommand=False,
            PropagateTags="SERVICE",
            NetworkConfiguration=NetworkConfiguration(
                AwsvpcConfiguration=AwsvpcConfiguration(
                    AssignPublicIp="DISABLED",
                    Subnets=Split(",", import_value(NETWORK, "PrivateSubnetIds")),
                    SecurityGroups=[Ref(groups[spec.name])],
                )
            ),
            DeploymentConfiguration=DeploymentConfiguration(
                DeploymentCircuitBreaker=DeploymentCircuitBreaker(Enable=True, Rollback=True),
                MinimumHealthyPercent=100,
                MaximumPercent=200,
            ),
            ServiceConnectConfiguration=service_connect(spec, namespace),
        )
        if spec is GATEWAY:
            service.LoadBalancers = [
                LoadBalancer(
                    ContainerName=spec.name,
                    ContainerPort=spec.port,
                    TargetGroupArn=Ref(target_group),
                )
            ]
            service.HealthCheckGracePeriodSeconds = 60
            service.DependsOn = ["HttpListener", WEB.logical + "Service", WAS.logical + "Service"]
            # ECS refuses a service whose target group no listener forwards to yet; with
            # a certificate that is the HTTPS listener (HTTP only redirects). A DependsOn
            # may not name a resource whose condition is false, so the conditional wait
            # is a reference in the metadata, which CloudFormation honours as a dependency.
            service.Metadata = {
                "WaitsForListener": If("HasCertificate", Ref(HTTPS_LISTENER), "HttpListener")
            }
        services[spec.name] = t.add_resource(service)
        add_autoscaling(t, spec, cluster, services[spec.name], params)

    add_monitoring(t, STACK)
    add_export(t, STACK, "ClusterName", Ref(cluster), "The ECS cluster")
    add_export(t, STACK, "ClusterArn", GetAtt(cluster, "Arn"), "The ECS cluster (ARN)")
    for spec in SERVICES:
        add_export(
            t, STACK, f"{spec.logical}ServiceName", GetAtt(services[spec.name], "Name"), spec.name
        )
        add_export(
            t,
            STACK,
            f"{spec.logical}TaskRoleArn",
            GetAtt(task_roles[spec.name], "Arn"),
            f"Task role of {spec.name}",
        )
    add_export(t, STACK, "TaskExecutionRoleArn", GetAtt(execution_role, "Arn"), "Execution role")
    t.add_output(
        Output(
            "Url",
            Description="Where the application answers",
            Value=If(
                "HasCertificate",
                Sub("https://${LoadBalancer.DNSName}"),
                Sub("http://${LoadBalancer.DNSName}"),
            ),
        )
    )
    return t


def add_parameters(t: Template, capacity: Capacity) -> dict[str, Parameter]:
    """Image tags, certificate, sizes (from `capacity`) and the tutorial's autoscaling
    values."""
    size = task_sizing(capacity)
    params: dict[str, Parameter] = {}
    for spec in SERVICES:
        params[f"{spec.logical}ImageTag"] = t.add_parameter(
            Parameter(
                f"{spec.logical}ImageTag",
                Type="String",
                # A commit id: images are immutable and never `latest`.
                AllowedPattern="^[0-9a-f]{7,40}$",
                Description=f"Commit id the {spec.name} image is tagged with",
            )
        )
    specs: list[tuple[str, dict[str, object]]] = [
        (
            "CertificateArn",
            {
                "Type": "String",
                "Default": "",
                "Description": "ACM certificate for HTTPS; empty serves HTTP only",
            },
        ),
        (
            "MinCapacity",
            {"Type": "Number", "Default": 2, "MinValue": 1, "Description": "Tasks min"},
        ),
        (
            "MaxCapacity",
            {"Type": "Number", "Default": 4, "MinValue": 1, "Description": "Tasks max"},
        ),
        (
            "CpuTargetPercent",
            {
                "Type": "Number",
                "Default": 70,
                "MinValue": 10,
                "MaxValue": 95,
                "Description": "Average CPU the service scales to keep",
            },
        ),
        ("ScaleInCooldown", {"Type": "Number", "Default": 300, "Description": "Seconds"}),
        ("ScaleOutCooldown", {"Type": "Number", "Default": 300, "Description": "Seconds"}),
        (
            "TaskCpu",
            {
                "Type": "String",
                "Default": str(size.cpu_units),
                "AllowedValues": ["256", "512", "1024", "2048"],
                "Description": "CPU units per task",
            },
        ),
        (
            "TaskMemory",
            {
                "Type": "String",
                "Default": str(size.memory_mib),
                "AllowedValues": ["512", "1024", "2048", "4096"],
                "Description": "MiB per task",
            },
        ),
        (
            "LogRetentionDays",
            {
                "Type": "Number",
                "Default": 30,
                "AllowedValues": [7, 14, 30, 60, 90, 180, 365],
                "Description": "Days to keep service logs",
            },
        ),
    ]
    for name, kwargs in specs:
        params[name] = t.add_parameter(Parameter(name, **kwargs))
    return params


def add_security_groups(t: Template, vpc_id: object) -> dict[str, SecurityGroup]:
    """ALB <- internet on 80/443; gateway <- ALB; web <- gateway; WAS <- gateway and web.

    Egress is as narrow as the services allow: the ALB only reaches the gateway; tasks
    reach their next hop plus HTTPS (AWS APIs and ECR through the NAT gateways; there
    are no VPC endpoints). The VPC resolver is not subject to security groups."""
    alb = t.add_resource(
        SecurityGroup(
            "AlbSecurityGroup",
            GroupDescription="Internet-facing ALB: HTTP and HTTPS from anywhere",
            VpcId=vpc_id,
            SecurityGroupIngress=[
                SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=port,
                    ToPort=port,
                    CidrIp=ANYWHERE,
                    Description=f"{label} from the internet",
                )
                for port, label in ((80, "HTTP"), (HTTPS, "HTTPS"))
            ],
            Metadata=checkov_skips(
                (
                    "CKV_AWS_260",
                    "the public ALB must accept port 80; it redirects to HTTPS whenever "
                    "CertificateArn is set",
                )
            ),
        )
    )
    groups: dict[str, SecurityGroup] = {}
    for spec in SERVICES:
        groups[spec.name] = t.add_resource(
            SecurityGroup(
                f"{spec.logical}SecurityGroup",
                GroupDescription=f"{spec.name} tasks",
                VpcId=vpc_id,
                SecurityGroupEgress=[
                    SecurityGroupRule(
                        IpProtocol="tcp",
                        FromPort=HTTPS,
                        ToPort=HTTPS,
                        CidrIp=ANYWHERE,
                        Description="HTTPS to AWS APIs and ECR through the NAT gateways",
                    )
                ],
            )
        )
    alb.SecurityGroupEgress = [
        SecurityGroupRule(
            IpProtocol="tcp",
            FromPort=GATEWAY.port,
            ToPort=GATEWAY.port,
            DestinationSecurityGroupId=Ref(groups["gateway"]),
            Description="to the gateway tasks only",
        )
    ]
    # Service-to-service hops; egress from the caller and ingress on the callee.
    hops = (("alb", GATEWAY), ("gateway", WEB), ("gateway", WAS), ("web", WAS))
    all_groups = {"alb": alb, **groups}
    for source, target in hops:
        caller = all_groups[source]
        if source != "alb":
            caller.SecurityGroupEgress.append(
                SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=target.port,
                    ToPort=target.port,
                    DestinationSecurityGroupId=Ref(groups[target.name]),
                    Description=f"to {target.name}",
                )
            )
        t.add_resource(
            SecurityGroupIngress(
                f"{target.logical}From{source.capitalize()}Ingress",
                GroupId=Ref(groups[target.name]),
                IpProtocol="tcp",
                FromPort=target.port,
                ToPort=target.port,
                SourceSecurityGroupId=Ref(caller),
                Description=f"{target.name} from {source}",
            )
        )
    return {"alb": alb, **groups}


def add_load_balancer(
    t: Template,
    groups: dict[str, SecurityGroup],
    vpc_id: object,
    params: dict[str, Parameter],
    is_production: str,
) -> TargetGroup:
    """The internet-facing ALB forwarding to the gateway; HTTP redirects to HTTPS when a
    certificate is given."""
    alb = t.add_resource(
        ApplicationLoadBalancer(
            "LoadBalancer",
            Type="application",
            Scheme="internet-facing",
            Subnets=Split(",", import_value(NETWORK, "PublicSubnetIds")),
            SecurityGroups=[Ref(groups["alb"])],
            LoadBalancerAttributes=[
                LoadBalancerAttributes(
                    Key="routing.http.drop_invalid_header_fields.enabled", Value="true"
                ),
                LoadBalancerAttributes(
                    Key="deletion_protection.enabled",
                    Value=If(is_production, "true", "false"),
                ),
            ],
            Metadata=checkov_skips(
                (
                    "CKV_AWS_91",
                    "ALB access logs need a region-specific ELB bucket policy; the gateway "
                    "writes one access-log line per request with the request id instead",
                )
            ),
        )
    )
    target_group = t.add_resource(
        TargetGroup(
            "GatewayTargetGroup",
            VpcId=vpc_id,
            Port=GATEWAY.port,
            Protocol="HTTP",
            TargetType="ip",
            HealthCheckEnabled=True,
            HealthCheckPath="/health",
            HealthCheckProtocol="HTTP",
            HealthCheckIntervalSeconds=15,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=3,
            Matcher=Matcher(HttpCode="200"),
            TargetGroupAttributes=[
                TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value="30")
            ],
        )
    )
    forward = Action(Type="forward", TargetGroupArn=Ref(target_group))
    redirect = Action(
        Type="redirect",
        RedirectConfig=RedirectConfig(Protocol="HTTPS", Port="443", StatusCode="HTTP_301"),
    )
    t.add_resource(
        Listener(
            "HttpListener",
            LoadBalancerArn=Ref(alb),
            Port=80,
            Protocol="HTTP",
            DefaultActions=[If("HasCertificate", redirect, forward)],
            Metadata=checkov_skips(
                (
                    "CKV_AWS_2",
                    "HTTP redirects to HTTPS whenever CertificateArn is set; without a "
                    "certificate (first deploy, demo stage) HTTP is the only listener",
                ),
                ("CKV_AWS_103", "TLS is set on the HTTPS listener; this one is plain HTTP"),
            ),
        )
    )
    t.add_resource(
        Listener(
            HTTPS_LISTENER,
            Condition="HasCertificate",
            LoadBalancerArn=Ref(alb),
            Port=HTTPS,
            Protocol="HTTPS",
            SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            Certificates=[Certificate(CertificateArn=Ref(params["CertificateArn"]))],
            DefaultActions=[forward],
        )
    )
    add_export(t, STACK, "LoadBalancerDnsName", GetAtt(alb, "DNSName"), "ALB DNS name")
    t.add_output(Output("LoadBalancerArn", Value=Ref(alb), Description="The ALB (for teardown)"))
    return target_group


def add_execution_role(t: Template) -> Role:
    """The role ECS uses to pull images and write logs (not the tasks' own rights)."""
    return t.add_resource(
        Role(
            "TaskExecutionRole",
            Path="/kkot/",
            AssumeRolePolicyDocument=assume_role_policy("ecs-tasks.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName="pull-images-write-logs",
                    PolicyDocument=document(
                        allow(
                            actions(
                                "ecr",
                                "BatchCheckLayerAvailability",
                                "BatchGetImage",
                                "GetDownloadUrlForLayer",
                            ),
                            [import_value(DATA, f"{s.logical}RepositoryArn") for s in SERVICES],
                        ),
                        # Only works on "*" (see tests/cfn/test_iam.py).
                        allow(actions("ecr", "GetAuthorizationToken"), ["*"]),
                        allow(
                            actions("logs", "CreateLogStream", "PutLogEvents"),
                            [
                                arn("logs", f"log-group:/kkot/${{Stage}}/{s.name}:log-stream:*")
                                for s in SERVICES
                            ],
                        ),
                        allow(actions("kms", "Decrypt"), [import_value(DATA, "DataKeyArn")]),
                    ),
                )
            ],
        )
    )


def add_task_roles(t: Template) -> dict[str, Role]:
    """Per-service task roles. The gateway and web need no AWS API; WAS
    invokes only its endpoint and uses its table, bucket, bus and queue."""
    key = import_value(DATA, "DataKeyArn")
    queue_actions = actions(
        "sqs", "ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "ReceiveMessage"
    )
    table_arn = import_value(DATA, "TableArn")
    images_arn = import_value(DATA, "ImagesBucketArn")
    statements = {
        "gateway": [],
        # Live history: each web task's own queue for classification events.
        "web": fanout_statements("web"),
        "was": [
            allow(
                actions("sagemaker", "InvokeEndpoint"),
                [arn("sagemaker", f"endpoint/{ENDPOINT_NAME}")],
                sid="InvokeOwnEndpointOnly",
            ),
            allow(
                actions("sagemaker", "DescribeEndpoint"),
                [arn("sagemaker", f"endpoint/{ENDPOINT_NAME}")],
                sid="DescribeOwnEndpoint",
            ),
            allow(
                actions(
                    "dynamodb",
                    "ConditionCheckItem",
                    "DeleteItem",
                    "GetItem",
                    "PutItem",
                    "Query",
                    "UpdateItem",
                ),
                [table_arn, Join("", [table_arn, "/index/*"])],
                sid="ClassificationRecords",
            ),
            allow(
                actions("s3", "GetObject", "PutObject"),
                [Join("", [images_arn, "/*"])],
                sid="ImageObjects",
            ),
            allow(actions("s3", "ListBucket"), [images_arn], sid="ImageListing"),
            allow(
                actions("events", "PutEvents"), [import_value(DATA, "EventBusArn")], sid="Publish"
            ),
            allow(queue_actions, [import_value(DATA, "WasQueueArn")], sid="ConsumeWasQueue"),
            allow(actions("kms", "Decrypt", "GenerateDataKey"), [key], sid="DataKey"),
            # Deploys: each WAS task's own queue for model.deployed.
            *fanout_statements("was"),
        ],
    }
    roles: dict[str, Role] = {}
    for spec in SERVICES:
        role = Role(
            f"{spec.logical}TaskRole",
            Path="/kkot/",
            AssumeRolePolicyDocument=assume_role_policy("ecs-tasks.amazonaws.com"),
        )
        if statements[spec.name]:
            role.Policies = [
                Policy(
                    PolicyName=f"{spec.name}-task",
                    PolicyDocument=document(*statements[spec.name]),
                )
            ]
        roles[spec.name] = t.add_resource(role)
    return roles


def fanout_statements(service: str) -> list[Statement]:
    """What a task needs for its own fan-out queue and rule (shared/events/fanout.py):
    only names under `kkot-<stage>-events-fanout-`; the sweep may delete any such
    queue whose owner died, so that part is not scoped to the service."""
    prefix = "kkot-${Stage}-events-fanout-"
    own_rule = arn("events", f"rule/kkot-${{Stage}}-events/{prefix}{service}-*")
    return [
        allow(
            actions("events", "PutRule", "PutTargets", "RemoveTargets", "DeleteRule"),
            [own_rule, arn("events", f"rule/kkot-${{Stage}}-events/{prefix}*")],
            sid="OwnFanoutRule",
        ),
        allow(
            actions(
                "sqs",
                "CreateQueue",
                "DeleteQueue",
                "GetQueueAttributes",
                "SetQueueAttributes",
                "TagQueue",
                "ListQueueTags",
                "ReceiveMessage",
                "DeleteMessage",
                "ChangeMessageVisibility",
            ),
            [arn("sqs", f"{prefix}*")],
            sid="OwnFanoutQueue",
        ),
        allow(actions("sqs", "ListQueues"), ["*"], sid="FindExpiredFanoutQueues"),
    ]


def environment(spec: AppService) -> list[Environment]:
    """Container environment: each service's KKOT_<SERVICE>_ settings on AWS."""
    prefix = f"KKOT_{spec.name.upper()}_"
    common = {
        "HOST": "0.0.0.0",
        "PORT": str(spec.port),
        "LOG_FORMAT": "json",
        # Metrics reach CloudWatch as EMF lines in the log (cfn/monitoring.py).
        **metrics_environment(),
    }
    per_service: dict[str, dict[str, object]] = {
        "gateway": {
            # Service Connect names (see the module docstring).
            "WEB_URL": f"http://web:{WEB.port}",
            "WAS_URL": f"http://was:{WAS.port}",
            "TRUSTED_PROXY_HOPS": "1",  # the ALB appends to X-Forwarded-For
            # Its own /metrics for a scraper inside the task; no rule opens this port.
            "METRICS_PORT": str(GATEWAY_METRICS_PORT),
        },
        "web": {
            "WAS_URL": f"http://was:{WAS.port}",
            # Live history from EventBridge through a queue of each task's own.
            "EVENTS_SOURCE": "bus",
            "BUS_BACKEND": "aws",
            "EVENT_BUS_NAME": import_value(DATA, "EventBusName"),
            "REGION": Ref("AWS::Region"),
        },
        "was": {
            "MODE": "aws",
            "ENDPOINT_NAME": import_value(MODEL, "EndpointName"),
            "REGION": Ref("AWS::Region"),
            # The root filesystem is read-only; /tmp is the task's scratch volume.
            "DATA_DIR": "/tmp/was",
            "TABLE_NAME": import_value(DATA, "TableName"),
            "IMAGES_BUCKET": import_value(DATA, "ImagesBucketName"),
            "EVENT_BUS_NAME": import_value(DATA, "EventBusName"),
            "EVENTS_QUEUE_URL": import_value(DATA, "WasQueueUrl"),
            "STORE_BACKEND": "dynamodb",
            "BLOB_BACKEND": "s3",
            "BUS_BACKEND": "aws",
            "IMAGES_KMS_KEY_ID": import_value(DATA, "DataKeyArn"),
        },
    }
    values: dict[str, object] = {**common, **per_service[spec.name]}
    return [Environment(Name=prefix + name, Value=values[name]) for name in sorted(values)]


def task_definition(
    spec: AppService,
    params: dict[str, Parameter],
    execution_role: Role,
    task_role: Role,
    log_group: LogGroup,
) -> TaskDefinition:
    """A Fargate task: one container, read-only root filesystem with a scratch /tmp,
    an image pinned to a commit tag, a /health check and logs to its log group."""
    image = Join(
        ":",
        [
            import_value(DATA, f"{spec.logical}RepositoryUri"),
            Ref(params[f"{spec.logical}ImageTag"]),
        ],
    )
    probe = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{spec.port}/health', timeout=3)"
    )
    return TaskDefinition(
        f"{spec.logical}TaskDefinition",
        Family=scoped(spec.name),
        Cpu=Ref(params["TaskCpu"]),
        Memory=Ref(params["TaskMemory"]),
        NetworkMode="awsvpc",
        RequiresCompatibilities=["FARGATE"],
        RuntimePlatform=RuntimePlatform(CpuArchitecture="X86_64", OperatingSystemFamily="LINUX"),
        ExecutionRoleArn=GetAtt(execution_role, "Arn"),
        TaskRoleArn=GetAtt(task_role, "Arn"),
        Volumes=[Volume(Name="tmp")],
        ContainerDefinitions=[
            ContainerDefinition(
                Name=spec.name,
                Image=image,
                Essential=True,
                ReadonlyRootFilesystem=True,
                MountPoints=[MountPoint(SourceVolume="tmp", ContainerPath="/tmp")],
                PortMappings=[
                    PortMapping(
                        Name=spec.name,
                        ContainerPort=spec.port,
                        Protocol="tcp",
                        AppProtocol="http",
                    )
                ],
                Environment=environment(spec),
                HealthCheck=HealthCheck(
                    Command=["CMD", "python", "-c", probe],
                    Interval=15,
                    Timeout=5,
                    Retries=3,
                    StartPeriod=30,
                ),
                LogConfiguration=LogConfiguration(
                    LogDriver="awslogs",
                    Options={
                        "awslogs-group": Ref(log_group),
                        "awslogs-region": Ref("AWS::Region"),
                        "awslogs-stream-prefix": spec.name,
                    },
                ),
            )
        ],
    )


def service_connect(spec: AppService, namespace: HttpNamespace) -> ServiceConnectConfiguration:
    """Web and WAS publish `web:8000` / `was:8081`; the gateway is a client only."""
    config = ServiceConnectConfiguration(Enabled=True, Namespace=GetAtt(namespace, "Arn"))
    if spec is not GATEWAY:
        config.Services = [
            ServiceConnectService(
                PortName=spec.name,
                DiscoveryName=spec.name,
                ClientAliases=[ServiceConnectClientAlias(DnsName=spec.name, Port=spec.port)],
            )
        ]
    return config


def add_autoscaling(
    t: Template, spec: AppService, cluster: Cluster, service: Service, params: dict[str, Parameter]
) -> None:
    """CPU target tracking with the tutorial's values (min 2, max 4, 70 %, 300 s / 300 s)."""
    target = t.add_resource(
        ScalableTarget(
            f"{spec.logical}ScalableTarget",
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Join("/", ["service", Ref(cluster), GetAtt(service, "Name")]),
            MinCapacity=Ref(params["MinCapacity"]),
            MaxCapacity=Ref(params["MaxCapacity"]),
        )
    )
    t.add_resource(
        ScalingPolicy(
            f"{spec.logical}CpuScaling",
            PolicyName=scoped(f"{spec.name}-cpu"),
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=Ref(target),
            TargetTrackingScalingPolicyConfiguration=TargetTrackingScalingPolicyConfiguration(
                PredefinedMetricSpecification=PredefinedMetricSpecification(
                    PredefinedMetricType="ECSServiceAverageCPUUtilization"
                ),
                TargetValue=Ref(params["CpuTargetPercent"]),
                ScaleInCooldown=Ref(params["ScaleInCooldown"]),
                ScaleOutCooldown=Ref(params["ScaleOutCooldown"]),
            ),
        )
    )
