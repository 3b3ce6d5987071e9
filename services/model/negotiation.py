"""Content negotiation for `/invocations`: request types, `Accept`, custom attributes.

Raw image bodies are recognised by their bytes, not their label: the Content-Type only
decides between "image bytes" and "JSON". Known non-raster types are refused with 415.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from shared.contracts.prediction import JSON_CONTENT_TYPE
from shared.custom_attributes import (
    CUSTOM_ATTRIBUTES_HEADER,
    MAX_CUSTOM_ATTRIBUTES_LENGTH,
    REQUEST_ID_ATTRIBUTE,
    split_custom_attributes,
)
from shared.errors import BadRequest, NotAcceptable, UnsupportedMediaType
from shared.http.accept import weighted_entries
from shared.image_formats import ACCEPTED_MIME_TYPES, is_image_body_type
from shared.middleware import is_safe_request_id

__all__ = [
    "CUSTOM_ATTRIBUTES_HEADER",
    "BodyKind",
    "InvocationOptions",
    "body_kind",
    "check_accept",
    "parse_custom_attributes",
]

_ACCEPTABLE: Final = ("application/json", "application/*", "*/*")


class BodyKind(Enum):
    IMAGE = "image"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class InvocationOptions:
    """What the caller asked for besides the image itself."""

    top_k: int | None = None
    probabilities: bool = False


def body_kind(content_type: str) -> BodyKind:
    """Image bytes or JSON, from the (parameter-free, lower-case) Content-Type; else 415."""
    if content_type == JSON_CONTENT_TYPE or content_type.endswith("+json"):
        return BodyKind.JSON
    if is_image_body_type(content_type):
        return BodyKind.IMAGE
    raise UnsupportedMediaType(
        f"Content-Type {content_type or '(none)'} is not supported; send "
        f"{', '.join(ACCEPTED_MIME_TYPES)}, application/x-image or application/json"
    )


def check_accept(header: str | None) -> None:
    """Refuse with 406 unless the Accept header allows JSON (absent means anything).

    The most specific range that names JSON decides (`application/json`, then
    `application/*`, then `*/*`), so `application/json;q=0, */*` refuses it."""
    if not header or not header.strip():
        return
    weights = {entry.value: entry.quality for entry in reversed(weighted_entries(header))}
    for media_range in _ACCEPTABLE:
        if media_range in weights:
            if weights[media_range] > 0:
                return
            break
    raise NotAcceptable(
        f"Accept {header[:100]!r} excludes application/json, the only response type"
    )


def parse_custom_attributes(header: str | None) -> InvocationOptions:
    """Parse `top_k=3,probabilities=true,request_id=abc` (also `;`-separated); unknown keys
    are a 400. A valid `request_id` was already bound by the request-context middleware
    (`request_id_attribute`); here it is only checked."""
    if not header or not header.strip():
        return InvocationOptions()
    if len(header) > MAX_CUSTOM_ATTRIBUTES_LENGTH:
        raise _bad(f"is longer than {MAX_CUSTOM_ATTRIBUTES_LENGTH} characters")
    top_k: int | None = None
    probabilities = False
    try:
        pairs = split_custom_attributes(header)
    except ValueError as exc:
        raise _bad(str(exc)) from exc
    for key, value in pairs:
        if key == "top_k":
            if not value.isdigit() or not 1 <= int(value) <= 1000:
                raise _bad(f"top_k must be a whole number from 1 to 1000, got {value[:20]!r}")
            top_k = int(value)
        elif key == "probabilities":
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise _bad(f"probabilities must be true or false, got {value[:20]!r}")
            probabilities = value.lower() in ("true", "1", "yes")
        elif key == REQUEST_ID_ATTRIBUTE:
            if not is_safe_request_id(value):
                raise _bad(
                    f"request_id must be 1-128 letters, digits or . _ : -, got {value[:20]!r}"
                )
        else:
            raise _bad(f"unknown attribute {key[:40]!r}; known: top_k, probabilities, request_id")
    return InvocationOptions(top_k=top_k, probabilities=probabilities)


def _bad(problem: str) -> BadRequest:
    return BadRequest(f"{CUSTOM_ATTRIBUTES_HEADER} {problem}", code="invalid_custom_attributes")
