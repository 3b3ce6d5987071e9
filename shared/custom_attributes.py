"""SageMaker custom attributes: the one header SageMaker forwards from caller to container.

`X-Amzn-SageMaker-Custom-Attributes` (`CustomAttributes=` in boto3) is a string of
`key=value` entries separated by `,` (or `;`). WAS writes it (`format_custom_attributes`)
and the model server reads it (`split_custom_attributes`); the model server decides
which keys it knows. `request_id` carries the caller's request id across the endpoint,
because SageMaker drops every other header, `X-Request-ID` included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from shared.middleware import is_safe_request_id

__all__ = [
    "CUSTOM_ATTRIBUTES_HEADER",
    "MAX_CUSTOM_ATTRIBUTES_LENGTH",
    "REQUEST_ID_ATTRIBUTE",
    "format_custom_attributes",
    "request_id_attribute",
    "split_custom_attributes",
]

CUSTOM_ATTRIBUTES_HEADER: Final = "X-Amzn-SageMaker-Custom-Attributes"
MAX_CUSTOM_ATTRIBUTES_LENGTH: Final = 1024  # SageMaker's own limit on the header
REQUEST_ID_ATTRIBUTE: Final = "request_id"
_SEPARATORS: Final = (",", ";", "=")


def format_custom_attributes(attributes: Mapping[str, str | int | bool]) -> str:
    """`key=value` entries joined by commas; refuses a key or value that would split."""
    entries = []
    for key, value in attributes.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if any(sep in part for part in (key, text) for sep in _SEPARATORS) or not key:
            raise ValueError(f"custom attribute {key!r}={text!r} contains , ; or =")
        entries.append(f"{key}={text}")
    return ",".join(entries)


def split_custom_attributes(header: str) -> list[tuple[str, str]]:
    """(lower-case key, value) pairs in order; ValueError names an entry without `=`."""
    pairs = []
    for raw in header.replace(";", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        if not sep:
            raise ValueError(f"entry {entry[:40]!r} is not key=value")
        pairs.append((key.strip().lower(), value.strip()))
    return pairs


def request_id_attribute(header: str | None) -> str | None:
    """The safe `request_id` entry of the header, or None (absent, unsafe or malformed;
    whoever validates the whole header reports those)."""
    if not header or len(header) > MAX_CUSTOM_ATTRIBUTES_LENGTH:
        return None
    try:
        pairs = split_custom_attributes(header)
    except ValueError:
        return None
    for key, value in pairs:
        if key == REQUEST_ID_ATTRIBUTE:
            return value if is_safe_request_id(value) else None
    return None
