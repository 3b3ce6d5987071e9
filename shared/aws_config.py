"""The one botocore configuration every AWS client of kkot uses (boto3 and aioboto3).

Retries are always stated as `total_max_attempts`: the number of calls, the first one
included. botocore's other key, `max_attempts`, counts the retries *after* the first, so
`max_attempts=1` means two calls; kkot never writes it. Retry mode is botocore's
"standard" (exponential backoff with jitter, throttling and transient errors only).

`AwsClientConfig` holds the few values a caller may choose; `.for_boto3()` and
`.for_aioboto3()` give the same options as each library's own class.
`with_default_config()` makes one the default of a botocore session, so every client
that session opens has it unless the client passes its own (botocore merges that over
the default). Only botocore is imported at module level: aiobotocore is not in every
extra that has boto3.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from botocore.config import Config
from botocore.session import Session

if TYPE_CHECKING:
    from aiobotocore.config import AioConfig

__all__ = ["DEFAULT_ATTEMPTS", "AwsClientConfig", "with_default_config"]

# botocore's own standard-mode default: the first call and two retries.
DEFAULT_ATTEMPTS: Final = 3

S = TypeVar("S", bound=Session)


@dataclass(frozen=True, slots=True)
class AwsClientConfig:
    """At most `attempts` calls per operation (1: none retried, for a caller that
    retries itself), with these timeouts and connection pool size."""

    attempts: int = DEFAULT_ATTEMPTS
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_pool_connections: int = 10  # botocore's own
    # Off only for a caller that builds every parameter itself from checked settings:
    # validating them again is about a tenth of botocore's CPU per call.
    validate_parameters: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts counts the first call too: at least 1")

    def options(self) -> dict[str, Any]:
        """The keyword arguments of botocore's `Config`."""
        values = asdict(self)
        return {
            "connect_timeout": values["connect_timeout_s"],
            "read_timeout": values["read_timeout_s"],
            "max_pool_connections": values["max_pool_connections"],
            "retries": {"mode": "standard", "total_max_attempts": values["attempts"]},
            "parameter_validation": values["validate_parameters"],
        }

    def for_boto3(self) -> Config:
        """As botocore's `Config` (boto3 clients)."""
        return Config(**self.options())

    def for_aioboto3(self) -> AioConfig:
        """As aiobotocore's `AioConfig` (aioboto3 clients)."""
        from aiobotocore.config import AioConfig  # absent where only boto3 is installed

        return AioConfig(**self.options())


def with_default_config(session: S, config: AwsClientConfig | None = None) -> S:
    """`session` (a botocore session), its clients configured by `config` (else the
    defaults) unless they pass their own."""
    session.set_default_client_config((config or AwsClientConfig()).for_boto3())
    return session
