"""A photo bigger than a SageMaker real-time endpoint accepts (~7 MB), made here."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from shared.contracts.prediction import SAGEMAKER_MAX_PAYLOAD_BYTES


def oversized_photo(source: bytes | None = None, *, min_bytes: int = 7_000_000) -> bytes:
    """A JPEG of at least `min_bytes` (over SageMaker's 6 MB): `source` (or a gradient)
    scaled up to 12 megapixels with sensor-like noise, which JPEG cannot squeeze."""
    assert min_bytes > SAGEMAKER_MAX_PAYLOAD_BYTES
    if source is not None:
        with Image.open(io.BytesIO(source)) as opened:
            base = opened.convert("RGB").resize((4000, 3000))
    else:
        base = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    rng = np.random.default_rng(7)
    pixels = np.asarray(base, dtype=np.int16) + rng.integers(-40, 41, (3000, 4000, 3))
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    for quality in (95, 98, 100):
        out = io.BytesIO()
        noisy.save(out, format="JPEG", quality=quality)
        if len(out.getvalue()) >= min_bytes:
            return out.getvalue()
    raise AssertionError("could not make a photo that large")
