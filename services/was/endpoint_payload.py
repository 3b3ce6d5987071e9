"""What WAS sends to the endpoint: the upload as it came, unless SageMaker would refuse it.

A real-time endpoint refuses request payloads over 6 MB, while WAS accepts uploads up
to 10 MiB. A larger photo is therefore re-encoded before the call: scaled down so its
shorter side is the model's own resize size (the model scales it there anyway, so
the prediction barely changes) and written as JPEG. The original stays in storage
untouched; only the bytes on the wire change.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from shared.contracts.model import Preprocessing
from shared.contracts.prediction import SAGEMAKER_MAX_PAYLOAD_BYTES
from shared.errors import InvalidImage, PayloadTooLarge

__all__ = ["EndpointPayload", "fit_for_endpoint"]

_JPEG_QUALITY = 92


@dataclass(frozen=True)
class EndpointPayload:
    """The bytes to send, their content type, and whether they were re-encoded."""

    data: bytes
    content_type: str
    reencoded: bool = False


def fit_for_endpoint(
    data: bytes,
    content_type: str,
    preprocessing: Preprocessing,
    limit: int = SAGEMAKER_MAX_PAYLOAD_BYTES,
) -> EndpointPayload:
    """`data` itself when it fits in `limit`, else a JPEG at the model's input scale
    (blocking: Pillow decodes; run it in a thread)."""
    if len(data) <= limit:
        return EndpointPayload(data, content_type)
    try:
        with Image.open(io.BytesIO(data)) as opened:
            # The uploaded orientation is what the model must see, as the server would.
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidImage(f"the image could not be decoded: {exc}") from exc
    short_side = min(image.size)
    target = max(preprocessing.resize_size, preprocessing.image_size)
    if short_side > target:
        scale = target / short_side
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=_JPEG_QUALITY)
    encoded = out.getvalue()
    if len(encoded) > limit:  # only an absurd aspect ratio gets here
        raise PayloadTooLarge("the image is too large for the model endpoint even scaled down")
    return EndpointPayload(encoded, "image/jpeg", reencoded=True)
