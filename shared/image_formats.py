"""The one media table (image format -> MIME type, extension, accepted or not), and what
format some bytes really are, from their magic numbers alone.

WAS checks uploads and the model server checks request bodies with the same table, so a
format one accepts is never one the other refuses, and what WAS stores, serves and
forwards is labelled with the format's own MIME type. No decoding here (and no Pillow):
the callers decode, with Pillow limited to `ACCEPTED_NAMES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from shared.errors import InvalidImage, UnsupportedMediaType

__all__ = [
    "ACCEPTED_FORMATS",
    "ACCEPTED_MIME_TYPES",
    "ACCEPTED_NAMES",
    "GENERIC_IMAGE_TYPES",
    "IMAGE_FORMATS",
    "ImageFormat",
    "accepted_format",
    "format_for_type",
    "format_named",
    "is_image_body_type",
    "sniff_format",
]


@dataclass(frozen=True, slots=True)
class ImageFormat:
    """One image format: how `sniff_format` (and Pillow) name it, its MIME type, the
    file extension kkot writes, whether the model reads it, other labels clients use."""

    name: str
    mime_type: str
    extension: str
    accepted: bool
    aliases: tuple[str, ...] = ()


IMAGE_FORMATS: Final = (
    ImageFormat("JPEG", "image/jpeg", "jpg", True, ("image/jpg", "image/pjpeg")),
    ImageFormat("PNG", "image/png", "png", True),
    ImageFormat("WEBP", "image/webp", "webp", True),
    ImageFormat("GIF", "image/gif", "gif", True),
    ImageFormat("BMP", "image/bmp", "bmp", True, ("image/x-ms-bmp",)),
    ImageFormat("TIFF", "image/tiff", "tif", True),
    # Recognised only to name them in a clear 415.
    ImageFormat("HEIF/AVIF", "image/heif", "heic", False, ("image/heic", "image/avif")),
    ImageFormat("SVG", "image/svg+xml", "svg", False),
    ImageFormat("PDF", "application/pdf", "pdf", False),
    ImageFormat("JPEG 2000", "image/jp2", "jp2", False),
    ImageFormat("Photoshop", "image/vnd.adobe.photoshop", "psd", False),
    ImageFormat("camera raw", "image/x-canon-cr2", "cr2", False),
)
ACCEPTED_FORMATS: Final = tuple(f for f in IMAGE_FORMATS if f.accepted)
ACCEPTED_NAMES: Final = tuple(f.name for f in ACCEPTED_FORMATS)
ACCEPTED_MIME_TYPES: Final = tuple(f.mime_type for f in ACCEPTED_FORMATS)
# Labels that say only "some bytes" (SageMaker's convention, botocore or curl without a
# type): the bytes are sniffed.
GENERIC_IMAGE_TYPES: Final = ("application/x-image", "application/octet-stream")
_BODY_TYPES: Final = frozenset(
    (*GENERIC_IMAGE_TYPES, *(t for f in ACCEPTED_FORMATS for t in (f.mime_type, *f.aliases)))
)
_BY_NAME: Final = {f.name: f for f in IMAGE_FORMATS}
_BY_TYPE: Final = {t: f for f in IMAGE_FORMATS for t in (f.mime_type, *f.aliases)}
_ACCEPTED_LIST: Final = ", ".join(ACCEPTED_NAMES)


def format_named(name: str) -> ImageFormat | None:
    """The table's row for a format name (`sniff_format`'s), or None."""
    return _BY_NAME.get(name)


def format_for_type(content_type: str) -> ImageFormat | None:
    """The table's row whose MIME type (or alias) is `content_type`, or None."""
    return _BY_TYPE.get(content_type.lower())


def is_image_body_type(content_type: str) -> bool:
    """True for a (parameter-free, lower-case) Content-Type that labels a raw image body
    the services take: an accepted format's type or alias, or a generic one."""
    return content_type in _BODY_TYPES


def accepted_format(data: bytes) -> ImageFormat:
    """The accepted format `data` really is; `InvalidImage` (400) for bytes that are no
    image, `UnsupportedMediaType` (415) for a known format the model cannot read."""
    name = sniff_format(data)
    if name is None:
        raise InvalidImage("the bytes are not an image in a supported format")
    found = _BY_NAME[name]
    if not found.accepted:
        raise UnsupportedMediaType(
            f"{name} images are not supported; send {_ACCEPTED_LIST}",
            code="unsupported_image_format",
        )
    return found


# Formats recognised only to name them in a clear "not supported" error.
_UNSUPPORTED_MAGIC: Final = (
    (b"%PDF", "PDF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"8BPS", "Photoshop"),
    (b"II*\x00\x10\x00\x00\x00CR", "camera raw"),
)
_HEIF_BRANDS: Final = (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif")


def sniff_format(data: bytes) -> str | None:
    """The image format the bytes really are ("JPEG", "PNG", "SVG", ...), or None."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"BM"):
        return "BMP"
    # Camera raw files are TIFF containers too: name them before the plain TIFF check.
    for magic, name in _UNSUPPORTED_MAGIC:
        if head.startswith(magic):
            return name
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF/AVIF"
    text = data[:512].lstrip().lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "SVG"
    return None
