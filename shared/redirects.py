"""Where the site may send a browser back to: a path on this site, nothing else.

Browsers strip tabs and newlines from a URL and read `\\` as `/`, so `/\\t/evil` or
`/\\\\evil` become `//evil`, another host. Rather than chase spellings, any control
character, space or backslash, and anything that parses with a scheme or a host,
falls back to the home page.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["same_site_path"]

_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_MAX_CHARS = 2048


def same_site_path(target: str | None, fallback: str = "/") -> str:
    """`target` when it is a plain path on this site, else `fallback`."""
    if not target or len(target) > _MAX_CHARS or _UNSAFE.search(target):
        return fallback
    if not target.startswith("/") or target.startswith("//"):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target
