"""The one paging cursor of both stores: `[position, id]`, always in that order."""

from __future__ import annotations

import base64
import json

import pytest

from services.was.cursors import MAX_CURSOR_CHARS, InvalidCursor, decode_cursor, encode_cursor


def _raw(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("position", "kind"), [(1_732_900_000_000_000, int), ("2026-11-30T03:00:00.000000Z", str)]
)
def test_a_cursor_names_its_position_then_its_id(position: int | str, kind: type) -> None:
    cursor = encode_cursor(position, "abc123")
    assert json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))) == [
        position,
        "abc123",
    ]
    assert decode_cursor(cursor, kind) == (position, "abc123")


@pytest.mark.parametrize(
    ("cursor", "kind"),
    [
        (_raw(["abc123", 17]), int),  # the swapped order is refused, not misread
        (_raw([True, "abc123"]), int),
        (_raw([17, "abc123"]), str),
        (_raw([17, ""]), int),
        (_raw([17, "x" * 65]), int),
        (_raw([17]), int),
        (_raw({"a": 1}), int),
        ("not base64 at all!", int),
        ("A" * (MAX_CURSOR_CHARS + 1), int),
    ],
)
def test_anything_else_is_an_invalid_cursor(cursor: str, kind: type) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, kind)
