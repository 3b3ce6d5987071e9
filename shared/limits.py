"""The one upload size limit, and how it is written for people.

Web, WAS and the gateway all derive their body limits from `MAX_UPLOAD_BYTES` (through
their settings' defaults), and every page that states the limit formats the same
setting with `size_text`, so the number a person reads is the one that is enforced.
"""

from __future__ import annotations

__all__ = ["ENVELOPE_BYTES", "MAX_UPLOAD_BYTES", "size_text", "upload_limit_of_body"]

# Largest photo accepted, in bytes.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Room around one photo in a request body: multipart boundaries, part headers, a form
# field or two. A body limit is the photo limit plus this.
ENVELOPE_BYTES = 64 * 1024
_MB = 1024 * 1024


def size_text(size: int) -> str:
    """`size` bytes as people write it: "10 MB", "2.5 MB", "512 KB"."""
    if size >= _MB:
        return f"{round(size / _MB, 1):g} MB"
    return f"{max(1, round(size / 1024))} KB"


def upload_limit_of_body(body_limit: int) -> int:
    """The largest photo that fits a request body of `body_limit` bytes."""
    return max(1, body_limit - ENVELOPE_BYTES)
