"""Reading the photo from the no-JavaScript form post (`multipart/form-data`, field
`file`) with the same bounded reader WAS uses (`shared.http.multipart`): parts, field and
file sizes are limited while the body is read."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from shared.errors import KkotError, PayloadTooLarge
from shared.http.multipart import read_file_part

__all__ = ["Upload", "UploadProblem", "read_upload"]


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str
    content_type: str


class UploadProblem(Exception):
    """The form carried no usable photo; `code` picks the message shown."""

    def __init__(self, code: str, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


async def read_upload(request: web.Request, limit: int) -> Upload:
    """The one part named `file`; other fields are read within their bound and dropped."""
    if not request.content_type.startswith("multipart/"):
        raise UploadProblem("no_file")
    try:
        part = await read_file_part(request, "file", max_file_bytes=limit)
    except PayloadTooLarge:
        raise UploadProblem("payload_too_large", 413) from None
    except KkotError as exc:
        code = "no_file" if exc.code in ("missing_file",) else "bad_request"
        raise UploadProblem(code, exc.status) from None
    if not part.data:
        # A named part with no bytes is an empty file; no name, no file chosen.
        raise UploadProblem("empty_file" if part.filename else "no_file")
    return Upload(part.data, (part.filename or "upload")[:200], part.content_type)
