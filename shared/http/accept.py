"""Weighted header lists (`Accept-Language`, `Accept`) read the one way RFC 9110 says.

A weight is `;q=` followed by a qvalue, `0` to `1` with at most three decimals
(RFC 9110 §12.4.2); an entry whose weight is malformed (`q=abc`, `q=1.5`) is ignored,
as a recipient may ignore what it cannot parse. `q=0` means "not acceptable": that
language is never chosen, not even through `*`. On equal weights the earlier entry wins.

A language range matches a supported language by its primary subtag (`ko-KR` asks for
`ko`), which is RFC 4647's lookup with the range truncated; `*` stands for every
supported language the header does not name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

__all__ = ["MAX_ENTRIES", "Weighted", "parse_qvalue", "preferred_languages", "weighted_entries"]

# Bounded work per header: a browser sends a handful of entries.
MAX_ENTRIES: Final = 32
_QVALUE: Final = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")

L = TypeVar("L", bound=str)


@dataclass(frozen=True, slots=True)
class Weighted:
    """One entry of a weighted list: its value (lower case), weight and position."""

    value: str
    quality: float
    position: int


def parse_qvalue(text: str) -> float | None:
    """The weight in a `q=` parameter, or None when it is not an RFC 9110 qvalue."""
    text = text.strip()
    return float(text) if _QVALUE.match(text) else None


def weighted_entries(header: str) -> list[Weighted]:
    """The entries of a comma-separated weighted header, malformed weights dropped."""
    entries: list[Weighted] = []
    for position, item in enumerate(header.split(",")[:MAX_ENTRIES]):
        value, *params = item.split(";")
        value = value.strip().lower()
        if not value:
            continue
        quality: float | None = 1.0
        for param in params:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                quality = parse_qvalue(raw)
        if quality is not None:
            entries.append(Weighted(value, quality, position))
    return entries


def preferred_languages(header: str, supported: Sequence[L], prefer: L | None = None) -> list[L]:
    """The supported languages the header accepts, most wanted first; among languages
    only `*` asked for, `prefer` (the service's default) first, then `supported` order."""
    best: dict[L, tuple[float, int]] = {}
    refused: set[L] = set()
    wildcard: Weighted | None = None
    for entry in weighted_entries(header):
        if entry.value == "*":
            wildcard = wildcard or entry
            continue
        primary = entry.value.split("-")[0]
        for language in supported:
            if primary != language:
                continue
            if entry.quality == 0:
                refused.add(language)
            elif language not in best or entry.quality > best[language][0]:
                best[language] = (entry.quality, entry.position)
    if wildcard is not None and wildcard.quality > 0:
        for language in supported:
            if language not in best and language not in refused:
                best[language] = (wildcard.quality, wildcard.position)
    ranked = sorted(
        (language for language in best if language not in refused),
        key=lambda language: (-best[language][0], best[language][1], language != prefer),
    )
    return ranked
