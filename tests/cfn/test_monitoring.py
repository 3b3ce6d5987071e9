"""The templates' CloudWatch side of the metrics: every service writes EMF lines into
the stage's namespace, the alarms and the dashboard name only metrics (and dimension
sets) the services publish, as one EMF record made by the services' own code shows,
and the gateway's metrics port is open to no one (read from the generated files)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from services.gateway.settings import GatewaySettings
from services.model.settings import ModelServerSettings
from shared.metrics.catalog import CATALOG, DIMENSION_NAMES, MetricDef, find_cloudwatch
from shared.metrics.emf import EmfBuffer
from shared.metrics.recorder import Metrics
from tests.cfn.conftest import Template, resources_of_type
from tests.cfn.test_service_settings import environment
from tests.emf_spec import assert_valid_emf

NAMESPACE = {"Fn::Sub": "kkot/${Stage}"}
# What CloudFormation substitutes into the dashboard body, for reading it here.
SUBSTITUTIONS = {
    "Stage": "staging",
    "AWS::Region": "ap-northeast-2",
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
}
LABEL_OF = {cloudwatch: label for label, cloudwatch in DIMENSION_NAMES.items()}


@pytest.fixture(scope="module")
def app(templates: dict[str, Template]) -> Template:
    return templates["application"]


def _sub(text: str) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: SUBSTITUTIONS[m.group(1)], text)


def _record_for(definition: MetricDef, dimensions: dict[str, str]) -> dict[str, Any]:
    """The EMF record the services' own code writes for one value of `definition`
    carrying `dimensions` (CloudWatch names -> values)."""
    labels = {LABEL_OF[name]: value for name, value in dimensions.items()}
    service = labels.pop("service")
    status_class = labels.pop("status_class", None)
    if status_class is not None:  # "5xx" is what a 5xx status is published as
        labels["status"] = status_class[0] + "00"
    for label in definition.labels:
        labels.setdefault(label, "x")
    records: list[dict[str, Any]] = []
    metrics = Metrics(service, CATALOG, emf=EmfBuffer(service, "kkot/staging", records.append))
    if definition.kind == "histogram":
        metrics.observe(definition, labels, 1.0)
    else:
        metrics.count(definition, labels)
    assert metrics.emf is not None
    (record,) = metrics.emf.take()
    assert_valid_emf(record)
    return record


def _assert_published(metric: str, dimensions: dict[str, str]) -> None:
    """CloudWatch will hold `metric` with exactly `dimensions`: an EMF record of the
    services carries that dimension set, with these values."""
    record = _record_for(find_cloudwatch(metric), dimensions)
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert sorted(dimensions) in [sorted(s) for s in directive["Dimensions"]], (metric, dimensions)
    assert metric in {m["Name"] for m in directive["Metrics"]}
    for name, value in dimensions.items():
        assert record[name] == value, (metric, name)


@pytest.mark.parametrize("service", ["gateway", "web", "was"])
def test_every_task_writes_emf_into_the_stage_namespace(app: Template, service: str) -> None:
    env = environment(app, service)
    assert env[f"KKOT_{service.upper()}_METRICS_EMF"] == "true"
    assert env[f"KKOT_{service.upper()}_METRICS_NAMESPACE"] == NAMESPACE


def test_the_model_container_writes_emf_into_the_stage_namespace(
    templates: dict[str, Template],
) -> None:
    (model,) = resources_of_type(templates["model"], "AWS::SageMaker::Model").values()
    env = model["Properties"]["PrimaryContainer"]["Environment"]
    assert env["KKOT_MODEL_METRICS_NAMESPACE"] == NAMESPACE
    resolved = {k: v if isinstance(v, str) else "kkot/staging" for k, v in env.items()}
    settings = ModelServerSettings(
        **{k.removeprefix("KKOT_MODEL_").lower(): v for k, v in resolved.items()}
    )
    assert settings.metrics_emf and settings.metrics_namespace == "kkot/staging"


def test_alarms_watch_metrics_the_services_publish(app: Template) -> None:
    alarms = resources_of_type(app, "AWS::CloudWatch::Alarm")
    assert {"GatewayServerErrorsAlarm", "ApiLatencyAlarm", "WasDeadLettersAlarm"} <= set(alarms)
    for logical, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["Namespace"] == NAMESPACE, logical
        dimensions = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        _assert_published(props["MetricName"], dimensions)
        assert ("Statistic" in props) != ("ExtendedStatistic" in props), logical
        assert props["TreatMissingData"] == "notBreaching"


def test_every_alarm_tells_the_stage_topic_when_it_fires_and_when_it_clears(
    app: Template,
) -> None:
    (topic,) = resources_of_type(app, "AWS::SNS::Topic")
    assert app["Resources"][topic]["Properties"]["TopicName"] == {"Fn::Sub": "kkot-${Stage}-alarms"}
    alarms = resources_of_type(app, "AWS::CloudWatch::Alarm")
    for logical, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic}], logical
        assert props["OKActions"] == [{"Ref": topic}], logical
    assert app["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": topic}
    assert app["Outputs"]["AlarmTopicArn"]["Export"]["Name"] == {
        "Fn::Sub": "kkot-${Stage}-application-AlarmTopicArn"
    }


def test_an_address_is_subscribed_only_when_one_is_given(app: Template) -> None:
    parameter = app["Parameters"]["AlarmEmail"]
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("ops@example.com")
    assert not pattern.fullmatch("not an address") and not pattern.fullmatch("a@b")
    ((logical, subscription),) = resources_of_type(app, "AWS::SNS::Subscription").items()
    condition = subscription["Condition"]
    assert app["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }, logical
    (topic,) = resources_of_type(app, "AWS::SNS::Topic")
    assert subscription["Properties"] == {
        "Endpoint": {"Ref": "AlarmEmail"},
        "Protocol": "email",
        "TopicArn": {"Ref": topic},
    }


def test_the_5xx_alarm_counts_server_errors_of_the_gateway(app: Template) -> None:
    props = app["Resources"]["GatewayServerErrorsAlarm"]["Properties"]
    assert props["MetricName"] == "Requests" and props["Statistic"] == "Sum"
    assert {d["Name"]: d["Value"] for d in props["Dimensions"]} == {
        "Service": "gateway",
        "StatusClass": "5xx",
    }


def _dashboard(app: Template) -> dict[str, Any]:
    (dashboard,) = resources_of_type(app, "AWS::CloudWatch::Dashboard").values()
    body: dict[str, Any] = json.loads(_sub(dashboard["Properties"]["DashboardBody"]["Fn::Sub"]))
    return body


def test_the_dashboard_graphs_only_metrics_the_services_publish(app: Template) -> None:
    widgets = [w for w in _dashboard(app)["widgets"] if w["type"] == "metric"]
    graphed = set()
    for widget in widgets:
        for line in widget["properties"]["metrics"]:
            if isinstance(line[0], dict):  # a SEARCH expression over one dimension set
                match = re.search(
                    r"\{\"(.+?)\",([\w,]+)\} MetricName=\"(\w+)\"", line[0]["expression"]
                )
                assert match, line
                namespace, names, metric = match.groups()
                dimensions = dict.fromkeys(names.split(","), "v1")
                dimensions["Service"] = "model"
            else:
                namespace, metric, *pairs, _options = line
                dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
            assert namespace == "kkot/staging"
            _assert_published(metric, dimensions)
            graphed.add(metric)
    # The figures: request counts and latency, batch size, queue wait, bus lag,
    # dead letters.
    assert {"Requests", "Latency", "BatchSize", "QueueWait", "BusLag", "DeadLetters"} <= graphed


def test_the_dashboard_shows_every_alarm(app: Template) -> None:
    (alarm_widget,) = [w for w in _dashboard(app)["widgets"] if w["type"] == "alarm"]
    shown = {arn.rsplit(":", 1)[1] for arn in alarm_widget["properties"]["alarms"]}
    names = {
        _sub(alarm["Properties"]["AlarmName"]["Fn::Sub"])
        for alarm in resources_of_type(app, "AWS::CloudWatch::Alarm").values()
    }
    assert shown == names


def test_the_gateway_metrics_port_is_open_to_no_one(app: Template) -> None:
    env = environment(app, "gateway")
    port = int(env["KKOT_GATEWAY_METRICS_PORT"])
    assert port != GatewaySettings().port
    for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroup"):
        for logical, resource in resources_of_type(app, kind).items():
            props = resource["Properties"]
            rules = props.get("SecurityGroupIngress", [props] if "FromPort" in props else [])
            for rule in rules:
                assert not rule["FromPort"] <= port <= rule["ToPort"], logical
    for group in resources_of_type(app, "AWS::ElasticLoadBalancingV2::TargetGroup").values():
        assert group["Properties"]["Port"] != port
    task = app["Resources"]["GatewayTaskDefinition"]["Properties"]
    (container,) = task["ContainerDefinitions"]
    assert {m["ContainerPort"] for m in container["PortMappings"]} == {GatewaySettings().port}
