"""The application template keeps the tutorial's names, ports and autoscaling values, and
chains its security groups least-privilege (read from the generated file)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.cfn.conftest import Template, resources_of_type, walk


@pytest.fixture(scope="module")
def app(templates: dict[str, Template]) -> Template:
    return templates["application"]


def props(template: Template, logical: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical]["Properties"]
    return properties


def test_cluster_is_app_ecs_cluster_with_container_insights(app: Template) -> None:
    cluster = app["Resources"]["AppEcsCluster"]
    assert cluster["Type"] == "AWS::ECS::Cluster"
    assert cluster["Properties"]["ClusterName"] == {"Fn::Sub": "AppEcsCluster-${Stage}"}
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["Properties"][
        "ClusterSettings"
    ]


@pytest.mark.parametrize(
    ("service_name", "container", "port"),
    [
        ("app-web-service", "web", 8000),
        ("app-was-service", "was", 8081),
        ("app-gateway-service", "gateway", 8080),
    ],
)
def test_services_keep_the_tutorial_names_and_ports(
    app: Template, service_name: str, container: str, port: int
) -> None:
    services = {
        s["Properties"]["ServiceName"]: s["Properties"]
        for s in resources_of_type(app, "AWS::ECS::Service").values()
    }
    service = services[service_name]
    assert service["Cluster"] == {"Ref": "AppEcsCluster"}
    assert service["LaunchType"] == "FARGATE"
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert "PrivateSubnetIds" in network["Subnets"]["Fn::Split"][1]["Fn::ImportValue"]["Fn::Sub"]
    breaker = service["DeploymentConfiguration"]["DeploymentCircuitBreaker"]
    assert breaker == {"Enable": True, "Rollback": True}

    task = props(app, service["TaskDefinition"]["Ref"])
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    (definition,) = task["ContainerDefinitions"]
    assert definition["Name"] == container
    assert definition["PortMappings"][0]["ContainerPort"] == port
    probe = " ".join(definition["HealthCheck"]["Command"])
    assert f"http://127.0.0.1:{port}/health" in probe
    assert definition["ReadonlyRootFilesystem"] is True
    assert definition["LogConfiguration"]["LogDriver"] == "awslogs"


def test_images_are_pinned_to_a_commit_tag_never_latest(app: Template) -> None:
    tasks = resources_of_type(app, "AWS::ECS::TaskDefinition")
    assert len(tasks) == 3
    for task in tasks.values():
        image = task["Properties"]["ContainerDefinitions"][0]["Image"]
        _, (repository, tag) = image["Fn::Join"]
        assert "RepositoryUri" in repository["Fn::ImportValue"]["Fn::Sub"]
        pattern = app["Parameters"][tag["Ref"]]["AllowedPattern"]
        assert re.fullmatch(pattern, "latest") is None
        assert re.fullmatch(pattern, "0123456789abcdef0123456789abcdef01234567")


def test_load_balancer_forwards_to_the_gateway_with_health_checks(app: Template) -> None:
    alb = props(app, "LoadBalancer")
    assert alb["Scheme"] == "internet-facing"
    assert "PublicSubnetIds" in alb["Subnets"]["Fn::Split"][1]["Fn::ImportValue"]["Fn::Sub"]
    groups = resources_of_type(app, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert list(groups) == ["GatewayTargetGroup"]
    for group in groups.values():
        assert group["Properties"]["HealthCheckPath"] == "/health"
        assert group["Properties"]["Port"] == 8080
        assert group["Properties"]["TargetType"] == "ip"
    gateway = props(app, "GatewayService")
    assert gateway["LoadBalancers"][0]["TargetGroupArn"] == {"Ref": "GatewayTargetGroup"}
    for logical in ("WebService", "WasService"):
        assert "LoadBalancers" not in props(app, logical)


def test_https_listener_and_redirect_only_with_a_certificate(app: Template) -> None:
    assert app["Conditions"]["HasCertificate"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]
    }
    assert app["Parameters"]["CertificateArn"]["Default"] == ""
    https = app["Resources"]["HttpsListener"]
    assert https["Condition"] == "HasCertificate"
    assert https["Properties"]["Port"] == 443
    assert https["Properties"]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    (action,) = props(app, "HttpListener")["DefaultActions"]
    condition, redirect, forward = action["Fn::If"]
    assert condition == "HasCertificate"
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert forward == {"TargetGroupArn": {"Ref": "GatewayTargetGroup"}, "Type": "forward"}


def test_autoscaling_uses_the_tutorial_values(app: Template) -> None:
    params = app["Parameters"]
    assert params["MinCapacity"]["Default"] == 2
    assert params["MaxCapacity"]["Default"] == 4
    assert params["CpuTargetPercent"]["Default"] == 70
    assert params["ScaleInCooldown"]["Default"] == 300
    assert params["ScaleOutCooldown"]["Default"] == 300
    targets = resources_of_type(app, "AWS::ApplicationAutoScaling::ScalableTarget")
    policies = resources_of_type(app, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert len(targets) == len(policies) == 3
    for target in targets.values():
        assert target["Properties"]["MinCapacity"] == {"Ref": "MinCapacity"}
        assert target["Properties"]["MaxCapacity"] == {"Ref": "MaxCapacity"}
        assert target["Properties"]["ScalableDimension"] == "ecs:service:DesiredCount"
    for policy in policies.values():
        config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        assert config["PredefinedMetricSpecification"] == {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
        }
        assert config["TargetValue"] == {"Ref": "CpuTargetPercent"}
        assert config["ScaleInCooldown"] == {"Ref": "ScaleInCooldown"}
        assert config["ScaleOutCooldown"] == {"Ref": "ScaleOutCooldown"}


def _ingress(app: Template) -> dict[str, set[tuple[str, int]]]:
    """Security group -> {(source, port)} from inline rules and ingress resources."""
    rules: dict[str, set[tuple[str, int]]] = {}
    for logical, group in resources_of_type(app, "AWS::EC2::SecurityGroup").items():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            source = rule.get("CidrIp") or rule["SourceSecurityGroupId"]["Ref"]
            rules.setdefault(logical, set()).add((source, rule["FromPort"]))
            assert rule["FromPort"] == rule["ToPort"]
    for rule in resources_of_type(app, "AWS::EC2::SecurityGroupIngress").values():
        p = rule["Properties"]
        assert p["FromPort"] == p["ToPort"]
        rules.setdefault(p["GroupId"]["Ref"], set()).add(
            (p["SourceSecurityGroupId"]["Ref"], p["FromPort"])
        )
    return rules


def test_security_groups_are_chained_least_privilege(app: Template) -> None:
    assert _ingress(app) == {
        "AlbSecurityGroup": {("0.0.0.0/0", 80), ("0.0.0.0/0", 443)},
        "GatewaySecurityGroup": {("AlbSecurityGroup", 8080)},
        "WebSecurityGroup": {("GatewaySecurityGroup", 8000)},
        # Web renders its pages from WAS's API (KKOT_WEB_WAS_URL), so WAS admits it too.
        "WasSecurityGroup": {("GatewaySecurityGroup", 8081), ("WebSecurityGroup", 8081)},
    }
    services = resources_of_type(app, "AWS::ECS::Service")
    groups = {
        s["Properties"]["ServiceName"]: s["Properties"]["NetworkConfiguration"][
            "AwsvpcConfiguration"
        ]["SecurityGroups"]
        for s in services.values()
    }
    assert groups == {
        "app-gateway-service": [{"Ref": "GatewaySecurityGroup"}],
        "app-web-service": [{"Ref": "WebSecurityGroup"}],
        "app-was-service": [{"Ref": "WasSecurityGroup"}],
    }


def test_egress_is_restricted(app: Template) -> None:
    groups = resources_of_type(app, "AWS::EC2::SecurityGroup")
    alb_egress = groups["AlbSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert alb_egress == [
        {
            "Description": "to the gateway tasks only",
            "DestinationSecurityGroupId": {"Ref": "GatewaySecurityGroup"},
            "FromPort": 8080,
            "IpProtocol": "tcp",
            "ToPort": 8080,
        }
    ]
    for logical, group in groups.items():
        egress = group["Properties"]["SecurityGroupEgress"]
        for rule in egress:
            assert rule["IpProtocol"] == "tcp", logical  # never "-1" (all traffic)
            if "CidrIp" in rule:
                assert (rule["FromPort"], rule["ToPort"]) == (443, 443), logical


def test_gateway_reaches_web_and_was_through_service_connect(app: Template) -> None:
    web = props(app, "WebService")["ServiceConnectConfiguration"]
    was = props(app, "WasService")["ServiceConnectConfiguration"]
    gateway = props(app, "GatewayService")["ServiceConnectConfiguration"]
    assert web["Services"][0]["ClientAliases"] == [{"DnsName": "web", "Port": 8000}]
    assert was["Services"][0]["ClientAliases"] == [{"DnsName": "was", "Port": 8081}]
    assert gateway["Enabled"] is True and "Services" not in gateway
    env = {
        e["Name"]: e["Value"]
        for e in props(app, "GatewayTaskDefinition")["ContainerDefinitions"][0]["Environment"]
    }
    assert env["KKOT_GATEWAY_WEB_URL"] == "http://web:8000"
    assert env["KKOT_GATEWAY_WAS_URL"] == "http://was:8081"


def test_log_groups_have_retention_and_encryption(app: Template) -> None:
    groups = resources_of_type(app, "AWS::Logs::LogGroup")
    assert len(groups) == 3
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert "LogsKeyArn" in group["Properties"]["KmsKeyId"]["Fn::ImportValue"]["Fn::Sub"]


def _evaluate(template: Template, parameters: dict[str, str]) -> dict[str, bool]:
    """Every condition of `template` for the given parameter values (else defaults)."""

    functions: dict[str, Any] = {
        "Ref": lambda name: parameters.get(name, template["Parameters"][name].get("Default")),
        "Fn::Equals": lambda args: str(value(args[0])) == str(value(args[1])),
        "Fn::Not": lambda args: not value(args[0]),
        "Fn::And": lambda args: all(value(a) for a in args),
        "Fn::Or": lambda args: any(value(a) for a in args),
        "Condition": lambda name: value(template["Conditions"][name]),
    }

    def value(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((function, args),) = node.items()
        if function not in functions:
            raise AssertionError(f"unhandled {function}")
        return functions[function](args)

    return {name: bool(value(c)) for name, c in template["Conditions"].items()}


def _resolve(node: Any, conditions: dict[str, bool]) -> Any:
    """`node` with every Fn::If decided and AWS::NoValue dropped."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, yes, no = node["Fn::If"]
            return _resolve(yes if conditions[name] else no, conditions)
        return {k: _resolve(v, conditions) for k, v in node.items() if v != {"Ref": "AWS::NoValue"}}
    if isinstance(node, list):
        return [_resolve(v, conditions) for v in node if v != {"Ref": "AWS::NoValue"}]
    return node


def _references(node: Any) -> set[str]:
    """Logical ids a resolved node names through Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    for item in walk(node):
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("Ref"), str):
            found.add(item["Ref"])
        if "Fn::GetAtt" in item:
            found.add(item["Fn::GetAtt"][0])
        if "Fn::Sub" in item:
            text = item["Fn::Sub"] if isinstance(item["Fn::Sub"], str) else item["Fn::Sub"][0]
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
    return found


def _created(template: Template, parameters: dict[str, str]) -> dict[str, set[str]]:
    """The resources CloudFormation creates for `parameters`, each with the resources it
    waits for (DependsOn, and Ref/GetAtt/Sub in its properties and metadata)."""
    conditions = _evaluate(template, parameters)
    resources = {
        logical: r
        for logical, r in template["Resources"].items()
        if conditions.get(r.get("Condition", ""), True)
    }
    graph: dict[str, set[str]] = {}
    for logical, r in resources.items():
        depends = r.get("DependsOn", [])
        named = _references(_resolve([r.get("Properties", {}), r.get("Metadata", {})], conditions))
        graph[logical] = set([depends] if isinstance(depends, str) else depends) | {
            n for n in named if n in template["Resources"]
        }
    return graph


def _waits_for(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for dependency in graph[todo.pop()]:
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


@pytest.mark.parametrize("certificate", ["", "arn:aws:acm:us-east-1:123456789012:certificate/x"])
def test_gateway_service_waits_for_the_listener_that_forwards_to_it(
    app: Template, certificate: str
) -> None:
    # ECS refuses a service whose target group no listener uses yet: the gateway service
    # must wait for every listener that forwards to its target group; with a certificate
    # that is the HTTPS listener (HTTP only redirects).
    parameters = {"CertificateArn": certificate}
    graph = _created(app, parameters)
    # Every dependency is a resource that exists with these parameters (a DependsOn on a
    # resource whose condition is false fails the whole stack).
    for logical, dependencies in graph.items():
        assert dependencies <= set(graph), (logical, dependencies - set(graph))
    conditions = _evaluate(app, parameters)
    (balancer,) = _resolve(props(app, "GatewayService"), conditions)["LoadBalancers"]
    forwarding = {
        logical
        for logical in graph
        if app["Resources"][logical]["Type"] == "AWS::ElasticLoadBalancingV2::Listener"
        and any(
            action.get("TargetGroupArn") == balancer["TargetGroupArn"]
            for action in _resolve(props(app, logical), conditions)["DefaultActions"]
        )
    }
    assert forwarding == ({"HttpsListener"} if certificate else {"HttpListener"})
    assert forwarding <= _waits_for(graph, "GatewayService")
