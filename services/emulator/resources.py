"""The stage's emulated resources by name, and the settings each service needs for them.

Names follow the template (`kkot-<stage>-<suffix>`; buckets get fixed names of the same
form when `prepare` deploys the stack), so they are known before the stack exists: one
table of them for `kkot run --aws-emulator`, the compose file (see NOTES / README) and
the tests. The emulator's account, region and dummy credentials are here too, for every
user of a moto server (the product's emulator and the tests alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DUMMY_CREDENTIALS", "MOTO_ACCOUNT", "REGION", "EmulatedStage"]

# moto's default account id: it appears in every queue URL and ARN it answers.
MOTO_ACCOUNT = "123456789012"
REGION = "us-east-1"
# moto accepts any credentials; these keep a real key, or a real session token left in
# the environment, from ever travelling with a request to the emulator.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
# Logical id of a bucket in the data-and-events stack -> suffix of its fixed name.
_BUCKET_SUFFIXES = {
    "ImagesBucket": "images",
    "ModelsBucket": "models",
    "AccessLogBucket": "access-logs",
}


@dataclass(frozen=True)
class EmulatedStage:
    """One stage's data-and-events resources in an emulator at `url`."""

    url: str
    stage: str = "local"
    region: str = REGION

    @property
    def stack_name(self) -> str:
        return f"kkot-{self.stage}-data-and-events"

    @property
    def table_name(self) -> str:
        return f"kkot-{self.stage}-classifications"

    @property
    def bucket_names(self) -> dict[str, str]:
        """The fixed name of each bucket, by its logical id in the template."""
        return {logical: f"kkot-{self.stage}-{s}" for logical, s in _BUCKET_SUFFIXES.items()}

    @property
    def images_bucket(self) -> str:
        return self.bucket_names["ImagesBucket"]

    @property
    def event_bus_name(self) -> str:
        return f"kkot-{self.stage}-events"

    @property
    def was_queue_url(self) -> str:
        # moto takes the queue from the URL's path, whatever its host.
        return f"{self.url}/{MOTO_ACCOUNT}/kkot-{self.stage}-was"

    def client(self, service: str) -> Any:
        """A boto3 client for this emulator, with the dummy credentials."""
        import boto3  # here: every `kkot` command imports this module

        from shared.aws_config import AwsClientConfig

        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
            # The emulator is local: fail fast rather than retry for minutes.
            config=AwsClientConfig(connect_timeout_s=2, read_timeout_s=30).for_boto3(),
        )

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
