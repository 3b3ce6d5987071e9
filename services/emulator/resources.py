"""The stage's emulated resources by name, and the settings each service needs for them.

Names follow the template (`kkot-<stage>-<suffix>`; buckets as `prepare` fixes them), so
they are known before the stack exists: one table of them for `kkot run --aws-emulator`,
the compose file (see NOTES / README) and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.emulator.prepare import bucket_name

__all__ = ["MOTO_ACCOUNT", "EmulatedStage"]

# moto's default account id: it appears in every queue URL and ARN it answers.
MOTO_ACCOUNT = "123456789012"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class EmulatedStage:
    """One stage's data-and-events resources in an emulator at `url`."""

    url: str
    stage: str = "local"
    region: str = "us-east-1"

    @property
    def stack_name(self) -> str:
        return f"kkot-{self.stage}-data-and-events"

    @property
    def table_name(self) -> str:
        return f"kkot-{self.stage}-classifications"

    @property
    def images_bucket(self) -> str:
        return bucket_name(self.stage, "ImagesBucket")

    @property
    def event_bus_name(self) -> str:
        return f"kkot-{self.stage}-events"

    @property
    def was_queue_url(self) -> str:
        # moto takes the queue from the URL's path, whatever its host.
        return f"{self.url}/{MOTO_ACCOUNT}/kkot-{self.stage}-was"

    def was_settings(self) -> dict[str, Any]:
        """WAS's AWS backends (its model endpoint is configured apart)."""
        return {
            "store_backend": "dynamodb",
            "table_name": self.table_name,
            "blob_backend": "s3",
            "images_bucket": self.images_bucket,
            "bus_backend": "aws",
            "event_bus_name": self.event_bus_name,
            "events_queue_url": self.was_queue_url,
            "aws_endpoint_url": self.url,
            "region": self.region,
        }

    def web_settings(self) -> dict[str, Any]:
        """Web's live history from EventBridge through a queue of its own."""
        return {
            "events_source": "bus",
            "bus_backend": "aws",
            "event_bus_name": self.event_bus_name,
            "aws_endpoint_url": self.url,
            "region": self.region,
        }

    def pipeline_environment(self) -> dict[str, str]:
        """For `kkot models deploy` to announce deploys on the emulated bus."""
        return {
            "KKOT_PIPELINE_BUS_BACKEND": "aws",
            "KKOT_PIPELINE_EVENT_BUS_NAME": self.event_bus_name,
            "KKOT_PIPELINE_AWS_ENDPOINT_URL": self.url,
            "KKOT_PIPELINE_REGION": self.region,
            **DUMMY_CREDENTIALS,
        }
