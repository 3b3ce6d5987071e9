"""CloudWatch alarms and a dashboard over kkot's own metrics.

The services write embedded-metric-format log lines (`shared.metrics.emf`) into the
stage's namespace `kkot/<Stage>`; CloudWatch turns them into metrics. Every alarm and
every dashboard line here names its metric through `shared.metrics.catalog`, and is
checked against it when the template is built: a CloudWatch name, unit or dimension
set the services do not publish cannot be written here.

Every alarm tells the stage's SNS topic `kkot-<Stage>-alarms` when it fires and when it
clears (`AlarmActions`, `OKActions`). The `AlarmEmail` parameter (`kkot aws deploy
--alarm-email`) subscribes an address; anything else (a chat integration, a pager)
subscribes to the exported `AlarmTopicArn`. The topic is not KMS-encrypted: CloudWatch
can publish to an encrypted topic only under a customer key whose policy names it, and
the messages carry alarm names, thresholds and states, no data of the service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from troposphere import Equals, Not, Parameter, Ref, Sub, Template
from troposphere.cloudwatch import Alarm, Dashboard, MetricDimension
from troposphere.sns import SubscriptionResource, Topic

from cfn.common import checkov_skips
from cfn.naming import add_export
from shared.metrics.catalog import DIMENSION_NAMES, find_cloudwatch

__all__ = [
    "ALARMS",
    "NAMESPACE",
    "AlarmSpec",
    "add_monitoring",
    "metrics_environment",
]

# The stage's namespace; the services receive it as KKOT_<SERVICE>_METRICS_NAMESPACE.
NAMESPACE = "kkot/${Stage}"
# The gateway's own /metrics (never the public port: no rule opens it).
GATEWAY_METRICS_PORT = 9080
HAS_ALARM_EMAIL = "HasAlarmEmail"


def metrics_environment() -> dict[str, object]:
    """Settings that turn on EMF lines into the stage's namespace (every service)."""
    return {"METRICS_EMF": "true", "METRICS_NAMESPACE": Sub(NAMESPACE)}


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm on a kkot metric. `dimensions` are catalog labels -> values and must
    be one of the metric's published dimension sets; `statistic` is a CloudWatch
    statistic (Sum, Average, Maximum) or a percentile (p90, p99)."""

    logical: str
    name: str
    description: str
    metric: str
    dimensions: Mapping[str, str]
    statistic: str
    threshold: float
    period_s: int = 60
    evaluation_periods: int = 5
    datapoints_to_alarm: int = 3


ALARMS: tuple[AlarmSpec, ...] = (
    AlarmSpec(
        "GatewayServerErrorsAlarm",
        "gateway-5xx",
        "The gateway answered more than 10 server errors a minute, 3 minutes in 5",
        "Requests",
        {"service": "gateway", "status_class": "5xx"},
        "Sum",
        10,
    ),
    AlarmSpec(
        "ApiLatencyAlarm",
        "api-latency-p99",
        "p99 of JSON API requests through the gateway above 3 s, 3 minutes in 5",
        "Latency",
        {"service": "gateway", "route": "proxy:was"},
        "p99",
        3.0,
    ),
    AlarmSpec(
        "ModelQueueWaitAlarm",
        "model-queue-wait-p90",
        "p90 of the model server's batch queue wait above 0.5 s: the endpoint is short of capacity",
        "QueueWait",
        {"service": "model"},
        "p90",
        0.5,
    ),
    AlarmSpec(
        "WasBusLagAlarm",
        "was-bus-lag-p90",
        "p90 of the time from publication to WAS's handlers above 60 s: background jobs "
        "are falling behind",
        "BusLag",
        {"service": "was"},
        "p90",
        60.0,
    ),
    *(
        AlarmSpec(
            f"{service.capitalize()}DeadLettersAlarm",
            f"{service}-dead-letters",
            f"{service} gave up on an event (it is in the consumer's dead-letter queue)",
            "DeadLetters",
            {"service": service},
            "Sum",
            0,
            period_s=300,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )
        for service in ("was", "web")
    ),
)


def _dimensions(metric: str, dimensions: Mapping[str, str]) -> list[tuple[str, str]]:
    """(CloudWatch name, value) pairs, refused unless the services publish `metric`
    under exactly this dimension set."""
    published = find_cloudwatch(metric).cloudwatch
    assert published is not None
    if set(dimensions) not in [set(s) for s in published.dimension_sets]:
        raise ValueError(f"{metric} is not published with dimensions {sorted(dimensions)}")
    return [(DIMENSION_NAMES[label], value) for label, value in dimensions.items()]


def _alarm(spec: AlarmSpec, topic: Topic) -> Alarm:
    kind = "ExtendedStatistic" if spec.statistic.startswith("p") else "Statistic"
    return Alarm(
        spec.logical,
        AlarmName=Sub(f"kkot-${{Stage}}-{spec.name}"),
        AlarmDescription=spec.description,
        AlarmActions=[Ref(topic)],
        OKActions=[Ref(topic)],
        Namespace=Sub(NAMESPACE),
        MetricName=spec.metric,
        Dimensions=[
            MetricDimension(Name=name, Value=value)
            for name, value in _dimensions(spec.metric, spec.dimensions)
        ],
        Period=spec.period_s,
        EvaluationPeriods=spec.evaluation_periods,
        DatapointsToAlarm=spec.datapoints_to_alarm,
        Threshold=spec.threshold,
        ComparisonOperator="GreaterThanThreshold",
        # No traffic is not an incident (a quiet stage has no datapoints at all).
        TreatMissingData="notBreaching",
        **{kind: spec.statistic},
    )


def _line(metric: str, dimensions: Mapping[str, str], stat: str, label: str) -> list[Any]:
    """One metric line of a dashboard widget, checked against the catalog."""
    pairs = [item for pair in _dimensions(metric, dimensions) for item in pair]
    return [NAMESPACE, metric, *pairs, {"stat": stat, "label": label}]


def _search(metric: str, dimensions: tuple[str, ...], stat: str, label: str) -> dict[str, Any]:
    """A SEARCH expression: one line per value of `dimensions` (e.g. per model version)."""
    names = ",".join(DIMENSION_NAMES[d] for d in dimensions)
    _dimensions(metric, dict.fromkeys(dimensions, "any"))  # published with these?
    return {
        "expression": f'SEARCH(\'{{"{NAMESPACE}",{names}}} MetricName="{metric}"\', '
        f"'{stat}', 300)",
        "label": label,
        "id": f"{metric.lower()}_{stat.lower()}",
    }


def _widget(title: str, lines: list[Any], x: int, y: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "period": 60,
            "metrics": lines,
            **extra,
        },
    }


def dashboard_body(alarm_names: list[str]) -> dict[str, Any]:
    """The dashboard's widgets (`${...}` left for Fn::Sub)."""
    gateway = {"service": "gateway"}
    widgets = [
        _widget(
            "Requests through the gateway by status class",
            [
                _line("Requests", {**gateway, "status_class": c}, "Sum", c)
                for c in ("2xx", "4xx", "5xx")
            ],
            0,
            0,
            stacked=True,
        ),
        _widget(
            "JSON API latency through the gateway (s)",
            [
                _line("Latency", {**gateway, "route": "proxy:was"}, p, p)
                for p in ("p50", "p90", "p99")
            ],
            12,
            0,
        ),
        _widget(
            "Requests per service",
            [_line("Requests", {"service": s}, "Sum", s) for s in ("gateway", "web", "was")]
            + [_line("Requests", {"service": "model"}, "Sum", "model")],
            0,
            6,
        ),
        _widget(
            "Model batch size (images per ONNX Runtime call)",
            [
                _line("BatchSize", {"service": "model"}, stat, stat)
                for stat in ("Average", "Maximum")
            ]
            + [[_search("BatchSize", ("service", "model_version"), "Average", "version")]],
            12,
            6,
        ),
        _widget(
            "Model queue wait and inference time (s)",
            [_line("QueueWait", {"service": "model"}, p, f"queue wait {p}") for p in ("p50", "p90")]
            + [_line("InferenceTime", {"service": "model"}, "p90", "inference p90")],
            0,
            12,
        ),
        _widget(
            "Event bus: delivery lag p90 (s) and dead letters",
            [_line("BusLag", {"service": s}, "p90", f"{s} lag p90") for s in ("was", "web")]
            + [
                _line("DeadLetters", {"service": s}, "Sum", f"{s} dead letters")
                for s in ("was", "web")
            ],
            12,
            12,
        ),
        {
            "type": "alarm",
            "x": 0,
            "y": 18,
            "width": 24,
            "height": 3,
            "properties": {
                "title": "kkot alarms",
                "alarms": [
                    "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
                    + name
                    for name in alarm_names
                ],
            },
        },
    ]
    return {"widgets": widgets}


def add_alarm_topic(t: Template, stack: str) -> Topic:
    """The stage's alarm topic (exported from `stack`), with an e-mail subscription when
    `AlarmEmail` is set."""
    email = t.add_parameter(
        Parameter(
            "AlarmEmail",
            Type="String",
            Default="",
            AllowedPattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
            Description="Address told when an alarm fires or clears; empty: none",
        )
    )
    t.add_condition(HAS_ALARM_EMAIL, Not(Equals(Ref(email), "")))
    topic = t.add_resource(
        Topic(
            "AlarmTopic",
            TopicName=Sub("kkot-${Stage}-alarms"),
            DisplayName=Sub("kkot ${Stage} alarms"),
            Metadata=checkov_skips(
                (
                    "CKV_AWS_26",
                    "CloudWatch publishes alarm names and states here; an encrypted topic "
                    "would need a customer key whose policy names CloudWatch",
                ),
            ),
        )
    )
    t.add_resource(
        SubscriptionResource(
            "AlarmEmailSubscription",
            Condition=HAS_ALARM_EMAIL,
            TopicArn=Ref(topic),
            Protocol="email",
            Endpoint=Ref(email),
        )
    )
    add_export(t, stack, "AlarmTopicArn", Ref(topic), "Where the stage's alarms are told")
    return topic


def add_monitoring(t: Template, stack: str) -> list[Alarm]:
    """The alarm topic, the alarms of `ALARMS` (each telling the topic) and the stage's
    dashboard, added to `t` (the template of `stack`)."""
    topic = add_alarm_topic(t, stack)
    alarms = [t.add_resource(_alarm(spec, topic)) for spec in ALARMS]
    names = [f"kkot-${{Stage}}-{spec.name}" for spec in ALARMS]
    t.add_resource(
        Dashboard(
            "Dashboard",
            DashboardName=Sub("kkot-${Stage}"),
            DashboardBody=Sub(json.dumps(dashboard_body(names), separators=(",", ":"))),
        )
    )
    return alarms
