"""The one botocore configuration every AWS client of kkot uses (boto3 and aioboto3).

Retries are always stated as `total_max_attempts`: the number of calls, the first one
included. botocore's other key, `max_attempts`, counts the retries *after* the first, so
`max_attempts=1` means two calls; kkot never writes it. Retry mode is botocore's
"standard" (exponential backoff with jitter, throttling and transient errors only).

`botocore_config()` is what a client gets; `with_default_config()` makes it the default
of a botocore session, so every client that session opens has it unless the client passes
its own (which botocore merges over the default). Only botocore is imported here: boto3
and aioboto3 are in different extras.
"""

from __future__ import annotations

from typing import Final, TypeVar

from botocore.config import Config
from botocore.session import Session

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_POOL_CONNECTIONS",
    "DEFAULT_READ_TIMEOUT_S",
    "botocore_config",
    "with_default_config",
]

# botocore's own standard-mode default: the first call and two retries.
DEFAULT_ATTEMPTS: Final = 3
DEFAULT_CONNECT_TIMEOUT_S: Final = 10.0
DEFAULT_READ_TIMEOUT_S: Final = 60.0
DEFAULT_POOL_CONNECTIONS: Final = 10  # botocore's own

S = TypeVar("S", bound=Session)


def botocore_config(
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    max_pool_connections: int = DEFAULT_POOL_CONNECTIONS,
) -> Config:
    """A client configuration making at most `attempts` calls per operation (1: none
    retried, for a caller that retries itself), with these timeouts and pool size."""
    if attempts < 1:
        raise ValueError("attempts counts the first call too: at least 1")
    return Config(
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        max_pool_connections=max_pool_connections,
        retries={"mode": "standard", "total_max_attempts": attempts},
    )


def with_default_config(session: S, config: Config | None = None) -> S:
    """`session` (a botocore or aiobotocore session), its clients configured by
    `config` (else `botocore_config()`) unless they pass their own."""
    session.set_default_client_config(config or botocore_config())
    return session
