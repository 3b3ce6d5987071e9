"""One normal form for the request path, computed once, from the raw request target.

The gateway routes, authorises and forwards this one string, so no later step (our
router, the upstream client, the upstream's own router) can see a different path
than the one access was decided on. The rules:

- percent-encoded *unreserved* characters (letters, digits, `-._~`) are decoded, and
  the remaining escapes are upper-cased, so `/%61pi/` and `/api/` are the same path;
- `.` and `..` segments (also spelled `%2e`) are resolved; one that would climb above
  the root is refused;
- runs of `/` collapse into one;
- forms that different parsers read differently are refused with 400 rather than
  guessed at: an encoded slash or backslash (`%2F`, `%5C`), a raw backslash, control
  characters or NUL (raw or encoded), a malformed escape, a target that is not a path.

The query string is passed on as sent (it never decides routing or access).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.errors import BadRequest

__all__ = ["NormalPath", "normalise_target"]

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Encoded "/", "\" and control characters (NUL included): ambiguous or dangerous.
_REFUSED_ESCAPES = frozenset({0x2F, 0x5C, 0x7F} | set(range(0x20)))
_CONTROL = re.compile(r"[\x00-\x20\x7f\\#]")


@dataclass(frozen=True)
class NormalPath:
    """The normalised path and the query exactly as sent (without its `?`)."""

    path: str
    query: str

    @property
    def target(self) -> str:
        """Path and query, for the upstream request line."""
        return f"{self.path}?{self.query}" if self.query else self.path


def _refuse(why: str) -> BadRequest:
    return BadRequest(f"the request path is not accepted: {why}", code="invalid_path")


def _decode_unreserved(match: re.Match[str]) -> str:
    value = int(match.group(1), 16)
    if value in _REFUSED_ESCAPES:
        raise _refuse("encoded slash, backslash or control character")
    char = chr(value)
    return char if char in _UNRESERVED else f"%{value:02X}"


def _resolve_dots(path: str) -> str:
    out: list[str] = []
    for segment in path.split("/")[1:]:
        if segment in ("", "."):
            continue
        if segment == "..":
            if not out:
                raise _refuse("a dot segment climbs above the root")
            out.pop()
            continue
        out.append(segment)
    trailing = path.endswith(("/", "/.", "/..")) and bool(out)
    return "/" + "/".join(out) + ("/" if trailing else "")


def normalise_target(raw_target: str) -> NormalPath:
    """The normal form of a raw request target (`/path?query`); 400 when ambiguous."""
    path, sep, query = raw_target.partition("?")
    if not path.startswith("/"):
        raise _refuse("not an origin-form path")
    if not path.isascii():
        raise _refuse("raw non-ASCII characters (percent-encode them)")
    if _CONTROL.search(path):
        raise _refuse("backslash, space, fragment or control character")
    if _BAD_ESCAPE.search(path):
        raise _refuse("malformed percent escape")
    decoded = _ESCAPE.sub(_decode_unreserved, path)
    return NormalPath(path=_resolve_dots(decoded), query=query if sep else "")
