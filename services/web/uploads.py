"""Reading the photo from the no-JavaScript form post (`multipart/form-data`, field
`file`), bounded in size while it is read."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, web

__all__ = ["Upload", "UploadProblem", "read_upload"]

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str
    content_type: str


class UploadProblem(Exception):
    """The form carried no usable photo; `code` picks the message shown."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def read_upload(request: web.Request, limit: int) -> Upload:
    """The first part named `file`; other fields are skipped."""
    if not request.content_type.startswith("multipart/"):
        raise UploadProblem("no_file")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "file":
                continue
            buffer = bytearray()
            while chunk := await part.read_chunk(_CHUNK):
                buffer.extend(chunk)
                if len(buffer) > limit:
                    raise UploadProblem("payload_too_large")
            if not buffer:
                # A named part with no bytes is an empty file; no name, no file chosen.
                raise UploadProblem("empty_file" if part.filename else "no_file")
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            return Upload(bytes(buffer), (part.filename or "upload")[:200], content_type)
    except (ValueError, AssertionError) as exc:  # aiohttp's reader on a malformed body
        raise UploadProblem("bad_request") from exc
    raise UploadProblem("no_file")
