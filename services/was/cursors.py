"""The opaque paging cursor of both classification stores: base64url (no padding) of the
JSON pair `[position, record id]`, where the position is the store's own sort key of the
last item returned (SQLite: microseconds since the epoch; DynamoDB: `created_at`).

One encoder and one decoder, so the pair is always written in the same order; the
decoder bounds everything a client could send and leaves the position's own range to
the store (`InvalidCursor`, a 400, for anything else).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Final, TypeVar

__all__ = ["MAX_CURSOR_CHARS", "MAX_ID_CHARS", "InvalidCursor", "decode_cursor", "encode_cursor"]

MAX_ID_CHARS: Final = 64
MAX_CURSOR_CHARS: Final = 512

P = TypeVar("P", int, str)


class InvalidCursor(ValueError):
    """A pagination cursor this store did not produce."""


def encode_cursor(position: int | str, record_id: str) -> str:
    """The cursor after the item at `position` with id `record_id`."""
    raw = json.dumps([position, record_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, position_type: type[P]) -> tuple[P, str]:
    """The `(position, record id)` a cursor names, the position of `position_type`."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("invalid cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position, record_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, RecursionError):
        raise InvalidCursor("invalid cursor") from None
    if (
        type(position) is not position_type  # no bool for an int
        or not isinstance(record_id, str)
        or not 0 < len(record_id) <= MAX_ID_CHARS
    ):
        raise InvalidCursor("invalid cursor")
    return position, record_id
