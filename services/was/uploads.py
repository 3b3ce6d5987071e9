"""Reading an uploaded image: multipart field `file` or a raw image body.

Every way an upload can be wrong ends in a 4xx `shared.errors` class: no `file` field,
two files, an empty file, a body over the limit (counted while streaming, so a huge
upload is refused without being buffered), bytes that are not an image, an image format
the model cannot read, too many pixels. The content type WAS stores and forwards is the
one the bytes really are (sniffed), never the client's claim. Filenames are sanitised
before they are stored or echoed.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from shared.errors import (
    BadRequest,
    InvalidImage,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from shared.http.multipart import read_file_part
from shared.image_formats import ACCEPTED_MIME_TYPES, accepted_format, is_image_body_type

__all__ = ["FILE_FIELD", "Upload", "check_image", "read_upload", "sanitize_filename"]

FILE_FIELD: Final = "file"
MAX_FILENAME_CHARS: Final = 120
_CHUNK: Final = 64 * 1024


@dataclass(frozen=True)
class Upload:
    """An image as received: its bytes, what they really are, and a safe filename."""

    data: bytes
    image_format: str
    content_type: str
    extension: str
    filename: str | None
    width: int
    height: int


def sanitize_filename(raw: str | None) -> str | None:
    """A display-safe filename: no path, no control characters, bounded length."""
    if not raw:
        return None
    # Browsers send UTF-8 as is; some clients (aiohttp among them) percent-encode it.
    try:
        name = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        name = raw
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[\\/]", name)[-1]
    # Drop control, format (bidi overrides), surrogate and unassigned characters.
    name = "".join(
        ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in "\u2028\u2029"
    )
    name = re.sub(r'[<>:"|?*]', "_", name).strip(" .")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name or None


def check_image(data: bytes, filename: str | None, max_pixels: int) -> Upload:
    """Check that `data` is an image the model can read; describe it."""
    if not data:
        raise BadRequest("the uploaded file is empty", code="empty_file")
    image_format = accepted_format(data)
    fmt = image_format.name
    try:
        # Image.open reads the header only; verify() walks the structure (PNG chunk
        # CRCs and the like) without decoding pixels, so this is cheap.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                width, height = image.size
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge("the image has too many pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidImage(f"the uploaded {fmt} image is damaged or truncated") from exc
    if width < 1 or height < 1:
        raise InvalidImage("the image has no pixels")
    if width * height > max_pixels:
        raise PayloadTooLarge(
            f"the image is {width}x{height}; at most {max_pixels} pixels are accepted"
        )
    return Upload(
        data=data,
        image_format=fmt,
        content_type=image_format.mime_type,
        extension=image_format.extension,
        filename=filename,
        width=width,
        height=height,
    )


async def _read_raw(request: web.Request, max_bytes: int) -> bytes:
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"the image is larger than {max_bytes} bytes")
    buf = bytearray()
    while chunk := await request.content.read(_CHUNK):
        buf += chunk
        if len(buf) > max_bytes:
            raise PayloadTooLarge(f"the image is larger than {max_bytes} bytes")
    return bytes(buf)


async def read_upload(request: web.Request, *, max_bytes: int, max_pixels: int) -> Upload:
    """The image in `request` (multipart `file`, or a raw `image/*` body), checked."""
    content_type = request.content_type.lower()
    if content_type.startswith("multipart/"):
        part = await read_file_part(request, FILE_FIELD, max_file_bytes=max_bytes)
        data, filename = part.data, sanitize_filename(part.filename)
    elif is_image_body_type(content_type):
        data = await _read_raw(request, max_bytes)
        filename = None
    else:
        raise UnsupportedMediaType(
            "send multipart/form-data with a 'file' field, or the image itself as one of "
            + ", ".join(ACCEPTED_MIME_TYPES)
        )
    return check_image(data, filename, max_pixels)
