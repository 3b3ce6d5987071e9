"""Image decoding and preprocessing shared by the model server and training.

    decode_image(bytes)       -> RGB `PIL.Image` (format sniffed from the bytes, EXIF
                                 orientation applied, colour modes normalised, first
                                 frame of animations, JPEG decoded at reduced scale)
    preprocess(image)         -> float32 (3, H, W) ready for the ONNX graph
    preprocess_array(array)   -> the same from an H x W x 3 array (the instances format)

Both training and serving call these, so a model sees exactly the same pixels in
both places. Errors are `shared.errors` classes: `InvalidImage` (400) for bytes that
are not a readable image, `UnsupportedMediaType` (415) for known non-raster formats
(SVG, PDF, ...), `PayloadTooLarge` (413) for images over the pixel limit.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from shared.contracts.model import Preprocessing
from shared.errors import InvalidImage, KkotError, PayloadTooLarge
from shared.image_formats import ACCEPTED_NAMES, accepted_format, sniff_format

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "decode_image",
    "image_to_array",
    "load_image_file",
    "preprocess",
    "preprocess_array",
    "sniff_format",
]

DEFAULT_MAX_PIXELS: Final = 40_000_000

# Magic numbers of formats people upload by mistake; named in the 415 message.
_RESAMPLE: Final = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
_WHITE: Final = (255, 255, 255)


def decode_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    target_short_side: int | None = None,
) -> Image.Image:
    """Decode `data` into an upright RGB image.

    `target_short_side` lets a JPEG decode at 1/2, 1/4 or 1/8 scale while both sides stay
    at least that long (the resize that follows would throw the detail away anyway).
    Raises `InvalidImage`, `UnsupportedMediaType` or `PayloadTooLarge`.
    """
    if not data:
        raise InvalidImage("the image is empty (0 bytes)", code="empty_image")
    accepted_format(data)
    try:
        image = _open(data, max_pixels)
        # Multi-picture JPEGs from phones open as "MPO" through the JPEG plugin.
        if target_short_side and image.format in ("JPEG", "MPO"):
            image.draft("RGB", (target_short_side, target_short_side))
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return _to_rgb(image)
    except (KkotError, MemoryError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(None, max_pixels) from exc
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise InvalidImage("the bytes are not an image in a supported format") from exc
    except Exception as exc:
        # Pillow reports truncated or corrupt data as OSError ("image file is truncated",
        # "broken data stream"), and malformed headers or EXIF blocks as ValueError,
        # struct.error, KeyError and others: all of them mean "not decodable".
        raise InvalidImage(f"the image could not be decoded ({_reason(exc)})") from exc


def load_image_file(
    path: str | os.PathLike[str], *, target_short_side: int | None = None
) -> Image.Image:
    """Decode an image file from disk the same way the server decodes request bodies."""
    with open(path, "rb") as handle:
        data = handle.read()
    return decode_image(data, max_pixels=DEFAULT_MAX_PIXELS, target_short_side=target_short_side)


def preprocess(image: Image.Image, preprocessing: Preprocessing) -> npt.NDArray[np.float32]:
    """Resize the shorter side to `resize_size`, center-crop `image_size`, normalise, CHW.

    Resize and crop happen in one resampling pass over just the cropped region, which
    gives the same pixels as resize-then-crop without building the full resized image.
    """
    if image.mode != "RGB":
        image = _to_rgb(image)
    crop = preprocessing.image_size
    width, height = image.size
    scale = preprocessing.resize_size / min(width, height)
    resized_w, resized_h = round(width * scale), round(height * scale)
    # torchvision's CenterCrop offsets, in resized pixels, then mapped back to the source.
    left = round((resized_w - crop) / 2.0)
    top = round((resized_h - crop) / 2.0)
    sx, sy = width / resized_w, height / resized_h
    box = (left * sx, top * sy, (left + crop) * sx, (top + crop) * sy)
    cropped = image.resize((crop, crop), _RESAMPLE[preprocessing.interpolation], box=box)
    return _normalise(np.asarray(cropped), preprocessing)


def preprocess_array(
    array: npt.NDArray[np.floating[Any]], preprocessing: Preprocessing
) -> npt.NDArray[np.float32]:
    """Preprocess an H x W x 3 array of pixel values (0..255, or 0..1 when all are <= 1).

    The array is quantised to 8 bits and goes through `preprocess`, so an image sent as
    numbers is treated exactly like the same image sent as a file.
    """
    return preprocess(Image.fromarray(image_to_array(array), "RGB"), preprocessing)


def image_to_array(array: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.uint8]:
    """H x W x 3 floats (0..255, or 0..1 when every value is <= 1) as uint8 pixels."""
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise InvalidImage(f"expected an H x W x 3 array, got shape {list(array.shape)}")
    if not np.isfinite(array).all():
        raise InvalidImage("pixel values must be finite numbers (no NaN or infinity)")
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 255:
        raise InvalidImage(f"pixel values must lie in 0..255 (or 0..1); got {low:g}..{high:g}")
    scaled = array * 255.0 if high <= 1.0 else array
    pixels: npt.NDArray[np.uint8] = np.rint(scaled).astype(np.uint8)
    return pixels


def _open(data: bytes, max_pixels: int) -> ImageFile.ImageFile:
    # Only the table's accepted formats: a crafted file cannot reach a rarely used (and
    # rarely hardened) Pillow plugin.
    image = Image.open(io.BytesIO(data), formats=ACCEPTED_NAMES)
    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels((width, height), max_pixels)
    if width < 1 or height < 1:
        raise InvalidImage("the image has no pixels")
    return image


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int) -> PayloadTooLarge:
    what = f"{size[0]}x{size[1]} pixels" if size else "too many pixels"
    return PayloadTooLarge(
        f"the image has {what}; the limit is {max_pixels:,} pixels", code="image_too_large"
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB; transparency is composited on white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
        if mode == "RGB":
            return image
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_wide_to_uint8(np.asarray(image)), "L").convert("RGB")
    return image.convert("RGB")


def _wide_to_uint8(pixels: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """16/32-bit integer or float greyscale to 8 bits, keeping the full range visible."""
    if pixels.dtype.kind == "f":
        finite = np.nan_to_num(pixels.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        peak = 1.0 if finite.max(initial=0.0) <= 1.0 else 255.0
        scaled: npt.NDArray[np.uint8] = np.clip(finite * (255.0 / peak), 0, 255).astype(np.uint8)
        return scaled
    wide = pixels.astype(np.int64)
    top = int(wide.max(initial=0))
    # 16-bit data (PNG "I;16", or "I" holding 16-bit values): keep the high byte.
    shift = 0 if top <= 255 else 8 if top <= 0xFFFF else 24
    narrow: npt.NDArray[np.uint8] = np.clip(wide >> shift, 0, 255).astype(np.uint8)
    return narrow


@lru_cache(maxsize=16)
def _affine(
    mean: tuple[float, float, float], std: tuple[float, float, float]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Per-channel scale and offset so that (x / 255 - mean) / std == x * scale + offset."""
    std_arr = np.asarray(std, dtype=np.float64)
    scale = (1.0 / (255.0 * std_arr)).astype(np.float32).reshape(3, 1, 1)
    offset = (-np.asarray(mean, dtype=np.float64) / std_arr).astype(np.float32).reshape(3, 1, 1)
    return scale, offset


def _normalise(
    pixels: npt.NDArray[np.uint8], preprocessing: Preprocessing
) -> npt.NDArray[np.float32]:
    scale, offset = _affine(preprocessing.mean, preprocessing.std)
    chw = pixels.transpose(2, 0, 1)
    out = np.empty(chw.shape, dtype=np.float32)
    np.multiply(chw, scale, out=out)
    out += offset
    return out
