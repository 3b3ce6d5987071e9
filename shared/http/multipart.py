"""The one bounded reader of `multipart/form-data` uploads, used by WAS's API and by
web's no-JavaScript form alike.

A request can make it do only a bounded amount of work: at most `max_parts` parts
(100,000 empty parts are refused at the 17th, not read for half a minute), the file at
most `max_file_bytes`, every other field at most `max_field_bytes`, part headers within
aiohttp's line limit, no nested multipart. Everything wrong is a 4xx `shared.errors`
class with its own code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong

from shared.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = ["MAX_FIELD_BYTES", "MAX_PARTS", "FilePart", "read_file_part"]

MAX_PARTS: Final = 16
MAX_FIELD_BYTES: Final = 64 * 1024
_CHUNK: Final = 64 * 1024


@dataclass(frozen=True)
class FilePart:
    """The one file of a form: its bytes, the client's filename and declared type."""

    data: bytes
    filename: str | None
    content_type: str


async def _read_limited(part: BodyPartReader, limit: int, what: str) -> bytes:
    buf = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        buf += chunk
        if len(buf) > limit:
            raise PayloadTooLarge(f"{what} is larger than {limit} bytes")
    return bytes(buf)


async def read_file_part(
    request: web.Request,
    field: str,
    *,
    max_file_bytes: int,
    max_parts: int = MAX_PARTS,
    max_field_bytes: int = MAX_FIELD_BYTES,
) -> FilePart:
    """The single file in form field `field`; other fields are read (bounded) and dropped."""
    if request.content_type.lower() != "multipart/form-data":
        raise UnsupportedMediaType(f"use multipart/form-data with a {field!r} field")
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError) as exc:
        raise BadRequest("malformed multipart body", code="invalid_multipart") from exc
    found: FilePart | None = None
    misnamed: str | None = None
    try:
        for _ in range(max_parts + 1):
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise BadRequest(
                    "nested multipart bodies are not accepted", code="invalid_multipart"
                )
            if part.name == field:
                if found is not None:
                    raise BadRequest(
                        f"send exactly one file in field {field!r}", code="too_many_files"
                    )
                data = await _read_limited(part, max_file_bytes, "the uploaded file")
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                found = FilePart(data, part.filename, content_type)
            else:
                if part.filename and misnamed is None:
                    misnamed = part.name or ""
                await _read_limited(part, max_field_bytes, f"field {part.name!r}")
        else:
            raise BadRequest(
                f"too many multipart fields (at most {max_parts})", code="invalid_multipart"
            )
    except LineTooLong as exc:
        # A part header (e.g. a 20 kB filename) over aiohttp's line limit.
        raise BadRequest("a multipart header is too long", code="invalid_multipart") from exc
    except (AssertionError, ValueError, RuntimeError, HttpProcessingError) as exc:
        raise BadRequest("malformed multipart body", code="invalid_multipart") from exc
    if found is None:
        hint = f" (a file came in field {misnamed!r})" if misnamed is not None else ""
        raise BadRequest(f"missing multipart field {field!r}{hint}", code="missing_file")
    return found
