"""Decoding and preprocessing: formats, colour modes, orientation, limits, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from services.model.imaging import (
    decode_image,
    image_to_array,
    preprocess,
    preprocess_array,
    sniff_format,
)
from shared.contracts.model import Preprocessing
from shared.errors import InvalidImage, PayloadTooLarge, UnsupportedMediaType
from tests.model.images import encode, make_image_bytes, png_with_size, structured_image

PRE = Preprocessing()


def reference_preprocess(image: Image.Image, pre: Preprocessing = PRE) -> np.ndarray:
    """The textbook pipeline: resize the shorter side, center-crop, scale, normalise."""
    width, height = image.size
    scale = pre.resize_size / min(width, height)
    resized = image.resize((round(width * scale), round(height * scale)), Image.Resampling.BILINEAR)
    left = round((resized.width - pre.image_size) / 2)
    top = round((resized.height - pre.image_size) / 2)
    crop = resized.crop((left, top, left + pre.image_size, top + pre.image_size))
    pixels = np.asarray(crop, dtype=np.float32) / 255.0
    normalised = (pixels - np.array(pre.mean, np.float32)) / np.array(pre.std, np.float32)
    return normalised.transpose(2, 0, 1)


def test_preprocess_matches_resize_then_center_crop() -> None:
    image = structured_image((640, 480))
    tensor = preprocess(image, PRE)
    assert tensor.shape == (3, 224, 224)
    assert tensor.dtype == np.float32
    assert tensor.flags.c_contiguous
    assert float(np.abs(tensor - reference_preprocess(image)).max()) < 0.05
    assert float(np.abs(tensor - reference_preprocess(image)).mean()) < 0.005


def test_preprocess_scales_to_minus_one_one_with_half_mean_std() -> None:
    black = preprocess(Image.new("RGB", (300, 300), (0, 0, 0)), PRE)
    white = preprocess(Image.new("RGB", (300, 300), (255, 255, 255)), PRE)
    assert np.allclose(black, -1.0) and np.allclose(white, 1.0)


def test_preprocess_uses_the_artifacts_own_mean_and_std() -> None:
    pre = Preprocessing(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), image_size=64)
    tensor = preprocess(Image.new("RGB", (100, 80), (255, 0, 128)), pre)
    assert tensor.shape == (3, 64, 64)
    expected = (np.array([1.0, 0.0, 128 / 255]) - np.array(pre.mean)) / np.array(pre.std)
    assert np.allclose(tensor[:, 10, 10], expected, atol=1e-5)


def test_decode_jpeg_returns_rgb_of_the_same_size() -> None:
    image = decode_image(make_image_bytes("JPEG", (320, 240)), max_pixels=10**6)
    assert image.mode == "RGB" and image.size == (320, 240)


def test_large_jpeg_decodes_at_reduced_scale_but_not_below_target() -> None:
    data = encode(structured_image((2048, 1536)), "JPEG", quality=90)
    image = decode_image(data, max_pixels=10**8, target_short_side=256)
    assert image.size == (512, 384)  # 1/4 scale: 1/8 would make the short side 192
    tensor = preprocess(image, PRE)
    full = preprocess(decode_image(data, max_pixels=10**8), PRE)
    assert float(np.abs(tensor - full).mean()) < 0.03


@pytest.mark.parametrize(
    ("orientation", "stored_as"),
    [
        (2, Image.Transpose.FLIP_LEFT_RIGHT),
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_orientation_is_applied(orientation: int, stored_as: Image.Transpose) -> None:
    upright = structured_image((320, 240))
    stored = upright.transpose(stored_as)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "PNG", exif=exif)
    decoded = decode_image(data, max_pixels=10**6)
    assert decoded.size == upright.size
    assert np.array_equal(preprocess(decoded, PRE), preprocess(upright, PRE))
    # Without the tag the same pixels would come out sideways or mirrored.
    assert not np.array_equal(preprocess(stored, PRE), preprocess(upright, PRE))


def test_exif_orientation_in_a_jpeg() -> None:
    upright = structured_image((320, 240))
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = decode_image(
        encode(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif),
        max_pixels=10**6,
    )
    plain = decode_image(encode(upright, "JPEG", quality=95), max_pixels=10**6)
    assert rotated.size == plain.size
    assert float(np.abs(preprocess(rotated, PRE) - preprocess(plain, PRE)).mean()) < 0.03


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("L", "PNG"),
        ("L", "JPEG"),
        ("1", "PNG"),
        ("P", "PNG"),
        ("P", "GIF"),
        ("CMYK", "JPEG"),
        ("CMYK", "TIFF"),
        ("RGB", "WEBP"),
        ("RGB", "BMP"),
        ("RGBA", "PNG"),
        ("RGBA", "WEBP"),
        ("LA", "PNG"),
        ("I;16", "PNG"),
        ("I", "TIFF"),
        ("F", "TIFF"),
    ],
)
def test_every_colour_mode_becomes_rgb(mode: str, fmt: str) -> None:
    source = structured_image((64, 48))
    image = source.convert(mode) if mode not in ("I;16", "I", "F") else source.convert("L")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image, dtype=np.uint16) * 257)
    elif mode in ("I", "F"):
        image = image.convert(mode)
    data = encode(image, fmt)
    decoded = decode_image(data, max_pixels=10**6)
    assert decoded.mode == "RGB" and decoded.size == (64, 48)
    assert preprocess(decoded, PRE).shape == (3, 224, 224)


def test_sixteen_bit_png_keeps_its_full_range() -> None:
    ramp = np.linspace(0, 65535, 64 * 64).astype(np.uint16).reshape(64, 64)
    data = encode(Image.fromarray(ramp), "PNG")
    assert Image.open(__import__("io").BytesIO(data)).mode.startswith("I")
    pixels = np.asarray(decode_image(data, max_pixels=10**6))
    assert pixels[0, 0, 0] == 0 and pixels[-1, -1, 0] == 255  # not clipped to white
    assert 100 < pixels[32, 0, 0] < 156


def test_transparency_is_composited_on_white() -> None:
    clear = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    clear.paste((0, 0, 255, 255), (0, 0, 20, 40))
    pixels = np.asarray(decode_image(encode(clear, "PNG"), max_pixels=10**6))
    assert tuple(pixels[5, 5]) == (0, 0, 255)
    assert tuple(pixels[5, 30]) == (255, 255, 255)


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    pixels = np.asarray(decode_image(data, max_pixels=10**6))
    assert pixels[..., 0].mean() > 200 and pixels[..., 2].mean() < 50


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_image_is_invalid(fmt: str) -> None:
    data = encode(structured_image((200, 150)), fmt)
    with pytest.raises(InvalidImage, match=r"could not be decoded|not an image"):
        decode_image(data[: len(data) // 2], max_pixels=10**6)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", InvalidImage),
        (b"hello, this is text and not an image at all", InvalidImage),
        (b"\xff\xd8\xff\xe0garbage", InvalidImage),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
            UnsupportedMediaType,
        ),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", UnsupportedMediaType),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", UnsupportedMediaType),
        (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00", UnsupportedMediaType),
    ],
)
def test_bad_bytes_are_refused_clearly(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        decode_image(data, max_pixels=10**6)
    assert getattr(info.value, "message", "")


def test_sniff_names_the_real_format() -> None:
    assert sniff_format(make_image_bytes("PNG")) == "PNG"
    assert sniff_format(make_image_bytes("JPEG")) == "JPEG"
    assert sniff_format(make_image_bytes("WEBP")) == "WEBP"
    assert sniff_format(b"%PDF-1.4") == "PDF"
    assert sniff_format(b"plain text") is None


def test_pixel_limit_names_the_limit() -> None:
    with pytest.raises(PayloadTooLarge, match="limit is 10,000 pixels"):
        decode_image(make_image_bytes("PNG", (200, 200)), max_pixels=10_000)


@pytest.mark.parametrize(
    "side",
    [
        8_000,  # 64 MP: over our limit, under Pillow's own warning threshold
        10_000,  # 100 MP: Pillow warns
        50_000,  # 2.5 GP: Pillow raises
    ],
)
def test_decompression_bomb_header_is_refused_before_decoding(side: int) -> None:
    bomb = png_with_size(side, side)  # a tiny file claiming a huge canvas
    assert len(bomb) < 1000
    with pytest.raises(PayloadTooLarge, match="limit"):
        decode_image(bomb, max_pixels=40_000_000)


def test_instances_array_accepts_unit_and_byte_ranges_alike() -> None:
    pixels = np.asarray(structured_image((50, 40)), dtype=np.float64)
    assert np.array_equal(preprocess_array(pixels, PRE), preprocess_array(pixels / 255.0, PRE))


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((10, 10, 4)), "H x W x 3"),
        (np.zeros((10, 10)), "H x W x 3"),
        (np.zeros((0, 10, 3)), "H x W x 3"),
        (np.full((4, 4, 3), np.nan), "finite"),
        (np.full((4, 4, 3), np.inf), "finite"),
        (np.full((4, 4, 3), -3.0), "0..255"),
        (np.full((4, 4, 3), 300.0), "0..255"),
    ],
)
def test_bad_instance_arrays_are_refused(array: np.ndarray, match: str) -> None:
    with pytest.raises(InvalidImage, match=match):
        image_to_array(array)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP"])
def test_corrupted_bytes_decode_or_fail_cleanly(fmt: str) -> None:
    """Seeded random corruption: every outcome is an RGB image or one of our errors."""
    exif = Image.Exif()
    exif[0x0112] = 6
    params = {"exif": exif} if fmt in ("JPEG", "PNG", "WEBP", "TIFF") else {}
    original = encode(structured_image((96, 64)), fmt, **params)
    rng = np.random.default_rng(1234)
    outcomes = {"decoded": 0, "refused": 0}
    for _ in range(150):
        data = bytearray(original)
        for _ in range(int(rng.integers(1, 8))):
            position = int(rng.integers(0, len(data)))
            data[position] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            data = data[: int(rng.integers(1, len(data)))]
        try:
            image = decode_image(bytes(data), max_pixels=1_000_000)
        except (InvalidImage, UnsupportedMediaType, PayloadTooLarge) as exc:
            assert exc.message
            outcomes["refused"] += 1
        else:
            assert image.mode == "RGB" and image.width > 0 and image.height > 0
            outcomes["decoded"] += 1
    assert outcomes["refused"] > 0
