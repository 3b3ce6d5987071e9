"""Strict parsing of query parameters: ASCII digits only (a Unicode digit such as `²`
passes `str.isdigit` and then breaks `int`), bounded before conversion, so any odd
value is a 400 with the one error shape, never a 500."""

from __future__ import annotations

import re

from shared.errors import BadRequest

__all__ = ["parse_bounded_int"]

_ASCII_INT = re.compile(r"[0-9]{1,9}")


def parse_bounded_int(raw: str | None, *, name: str, default: int, low: int, high: int) -> int:
    """`raw` as an integer in [low, high]; `default` when absent; 400 otherwise."""
    if raw is None:
        return default
    if _ASCII_INT.fullmatch(raw) is None or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be an integer from {low} to {high}", code=f"invalid_{name}")
    return int(raw)
