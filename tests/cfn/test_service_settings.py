"""The container environment in the task definitions is what the services read: every
KKOT_<SERVICE>_* variable names a field of that service's settings class (or is listed
below as waiting for its AWS adapter), and the settings accept the values."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from tests.cfn.conftest import Template

SETTINGS = {
    "gateway": "services.gateway.settings:GatewaySettings",
    "web": "services.web.settings:WebSettings",
    "was": "services.was.settings:WasSettings",
}

# Provisioned by the templates for an AWS backend that the service's settings do not
# have yet (none now: every variable the templates set is a settings field).
AWAITING_ADAPTERS: set[str] = set()

# Stand-ins for values CloudFormation fills in at deploy time.
RESOLVED = {
    "KKOT_WAS_ENDPOINT_NAME": "kkot-production-flowers",
    "KKOT_WAS_REGION": "ap-northeast-2",
    "KKOT_WAS_TABLE_NAME": "kkot-production-classifications",
    "KKOT_WAS_IMAGES_BUCKET": "kkot-production-data-imagesbucket-1a2b3c",
    "KKOT_WAS_EVENT_BUS_NAME": "kkot-production-events",
    "KKOT_WAS_EVENTS_QUEUE_URL": "https://sqs.ap-northeast-2.amazonaws.com/123456789012/kkot-production-was",
    "KKOT_WAS_IMAGES_KMS_KEY_ID": "arn:aws:kms:ap-northeast-2:123456789012:key/1a2b3c",
    "KKOT_WEB_EVENT_BUS_NAME": "kkot-production-events",
    "KKOT_WEB_REGION": "ap-northeast-2",
    **{f"KKOT_{s}_METRICS_NAMESPACE": "kkot/production" for s in ("GATEWAY", "WEB", "WAS")},
}


def settings_class(service: str) -> type[BaseSettings]:
    module, _, name = SETTINGS[service].partition(":")
    cls: type[BaseSettings] = getattr(importlib.import_module(module), name)
    return cls


def environment(app: Template, service: str) -> dict[str, Any]:
    task = app["Resources"][f"{service.capitalize()}TaskDefinition"]["Properties"]
    (container,) = task["ContainerDefinitions"]
    return {e["Name"]: e["Value"] for e in container["Environment"]}


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_task_environment_matches_the_service_settings(
    templates: dict[str, Template], service: str
) -> None:
    cls = settings_class(service)
    prefix = f"KKOT_{service.upper()}_"
    values: dict[str, Any] = {}
    for name, value in environment(templates["application"], service).items():
        assert name.startswith(prefix), name
        if name in AWAITING_ADAPTERS:
            continue
        field = name.removeprefix(prefix).lower()
        assert field in cls.model_fields, f"{name}: {cls.__name__} has no field {field!r}"
        if not isinstance(value, str):  # an intrinsic function
            value = RESOLVED[name]
        values[field] = value
    settings = cls(**values)
    assert settings.host == "0.0.0.0"  # type: ignore[attr-defined]
    assert settings.log_format == "json"  # type: ignore[attr-defined]


def test_was_runs_against_the_real_sagemaker_runtime(templates: dict[str, Template]) -> None:
    env = environment(templates["application"], "was")
    assert env["KKOT_WAS_MODE"] == "aws"
    # On ECS the records, images and events live in the data stack, not in the task.
    assert env["KKOT_WAS_STORE_BACKEND"] == "dynamodb"
    assert env["KKOT_WAS_BLOB_BACKEND"] == "s3"
    assert env["KKOT_WAS_BUS_BACKEND"] == "aws"
    assert "EndpointName" in env["KKOT_WAS_ENDPOINT_NAME"]["Fn::ImportValue"]["Fn::Sub"]
