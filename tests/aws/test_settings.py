"""WAS picks its AWS backends from the environment, and refuses half a configuration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.was.settings import WasSettings


def test_aws_backends_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "KKOT_WAS_STORE_BACKEND": "dynamodb",
        "KKOT_WAS_TABLE_NAME": "kkot-production-classifications",
        "KKOT_WAS_BLOB_BACKEND": "s3",
        "KKOT_WAS_IMAGES_BUCKET": "kkot-production-images",
        "KKOT_WAS_IMAGES_SSE": "AES256",
        "KKOT_WAS_BUS_BACKEND": "aws",
        "KKOT_WAS_EVENT_BUS_NAME": "kkot-production-events",
        "KKOT_WAS_EVENTS_QUEUE_URL": "https://sqs.ap-northeast-2.amazonaws.com/1/kkot-was",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = WasSettings()
    assert (settings.store_backend, settings.blob_backend, settings.bus_backend) == (
        "dynamodb",
        "s3",
        "aws",
    )
    assert settings.table_name == "kkot-production-classifications"
    assert settings.images_sse == "AES256"
    assert settings.aws_endpoint_url is None  # real AWS unless an emulator is named


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"store_backend": "dynamodb"}, "table_name"),
        ({"blob_backend": "s3"}, "images_bucket"),
        ({"bus_backend": "aws", "event_bus_name": "b"}, "events_queue_url"),
        ({"bus_backend": "aws", "events_queue_url": "https://q"}, "event_bus_name"),
    ],
)
def test_an_aws_backend_without_its_resource_name_is_refused(
    values: dict[str, str], missing: str
) -> None:
    with pytest.raises(ValidationError, match=missing):
        WasSettings(**values)  # type: ignore[arg-type]


def test_unknown_backends_are_refused() -> None:
    with pytest.raises(ValidationError):
        WasSettings(store_backend="postgres")
