"""Who a request acts for: the access principal the gateway established.

The gateway decides it (an API key, a browser session made from a key, or
"anonymous" when keys are off), drops any value a caller sent, and passes it on in
`X-Kkot-Principal`; web forwards it on the calls it makes to WAS for that person
(a contextvar set per request, read by its WAS client); WAS records it as who created
or corrected a record. Only the gateway is reachable from outside, so upstreams may
trust the header.
"""

from __future__ import annotations

import contextvars
from typing import Final

__all__ = ["ANONYMOUS", "PRINCIPAL_HEADER", "current_principal", "is_key_principal"]

PRINCIPAL_HEADER: Final = "X-Kkot-Principal"
ANONYMOUS: Final = "anonymous"

current_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kkot_principal", default=None
)


def is_key_principal(principal: str | None) -> bool:
    """True for a principal that stands for an API key's holder."""
    return bool(principal) and str(principal).startswith("key:")
