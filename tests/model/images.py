"""Small generated images for the model tests (no photos in the repo)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from tests.conftest import make_image_bytes

__all__ = ["encode", "make_image_bytes", "png_with_size", "structured_image"]


def structured_image(size: tuple[int, int] = (320, 240)) -> Image.Image:
    """An RGB image with no symmetry, so any wrong rotation or flip shows."""
    width, height = size
    image = Image.new("RGB", size, (30, 60, 90))
    pixels = image.load()
    assert pixels is not None
    for y in range(height):
        for x in range(width):
            pixels[x, y] = ((x * 255) // width, (y * 255) // height, ((x + 2 * y) * 7) % 256)
    image.paste((250, 20, 20), (10, 10, width // 3, height // 4))  # a block top-left
    return image


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression-bomb shape)."""
    data = make_image_bytes("PNG", (8, 8))
    ihdr = data.find(b"IHDR")
    header = bytearray(data[ihdr + 4 : ihdr + 17])
    header[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(header)) & 0xFFFFFFFF)
    return data[: ihdr + 4] + bytes(header) + crc + data[ihdr + 21 :]
