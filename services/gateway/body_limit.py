"""Request body size limit: the declared Content-Length is checked before anything is
forwarded, and a chunked body is counted while it streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from shared.errors import BadRequest, PayloadTooLarge

__all__ = ["LimitedBody", "check_declared_length", "too_large"]

_CHUNK = 64 * 1024


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body larger than {limit} bytes")


def check_declared_length(request: web.Request, limit: int) -> int | None:
    """The declared Content-Length (None without one); a body it says is too large is
    refused at once."""
    declared = request.headers.get("Content-Length")
    if declared is None:
        return None
    try:
        length = int(declared)
    except ValueError:
        raise BadRequest("Content-Length is not a number") from None
    if length > limit:
        raise too_large(limit)
    return length


class LimitedBody:
    """The request body as an async iterator of chunks that stops at `limit` bytes.

    The upstream client consumes it; when the body goes over, iteration stops with an
    error and `exceeded` tells the proxy to answer 413 instead of blaming the upstream.
    """

    def __init__(self, request: web.Request, limit: int) -> None:
        self._request = request
        self._limit = limit
        self.received = 0
        self.exceeded = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._request.content.iter_chunked(_CHUNK):
            self.received += len(chunk)
            if self.received > self._limit:
                self.exceeded = True
                raise too_large(self._limit)
            yield chunk
