"""What image format some bytes really are, from their magic numbers alone.

WAS checks uploads and the model server checks request bodies with the same rules, so
a format one accepts is never one the other calls "not an image". No decoding here
(and no Pillow): the callers decode.
"""

from __future__ import annotations

from typing import Final

__all__ = ["sniff_format"]

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
