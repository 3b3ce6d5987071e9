"""HTTP handlers of the model server: parse, call the classifier or holder, render."""

from __future__ import annotations

import time
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel

from services.model.keys import CLASSIFIER, HOLDER, SETTINGS
from services.model.negotiation import (
    CUSTOM_ATTRIBUTES_HEADER,
    BodyKind,
    body_kind,
    check_accept,
    parse_custom_attributes,
)
from shared.contracts.model import SwapModelRequest
from shared.errors import BadRequest, PayloadTooLarge
from shared.http.answers import json_answer

__all__ = ["get_model", "invocations", "ping", "swap_model"]

VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"


async def ping(request: web.Request) -> web.Response:
    """SageMaker health check: 200 once the model is loaded and warmed, else 503."""
    request.app[HOLDER].require()
    return web.Response(status=200)


async def invocations(request: web.Request) -> web.Response:
    """Classify the body (`/invocations` and `/endpoints/{EndpointName}/invocations`)."""
    started = time.perf_counter()
    check_accept(request.headers.get("Accept"))
    options = parse_custom_attributes(request.headers.get(CUSTOM_ATTRIBUTES_HEADER))
    kind = body_kind(request.content_type)
    model = request.app[HOLDER].require()
    body = await _read_body(request)
    classifier = request.app[CLASSIFIER]
    if kind is BodyKind.IMAGE:
        result: BaseModel = await classifier.image_bytes(model, body, options, started)
    else:
        result = await classifier.json_body(model, body, options, started)
    return json_answer(result, headers={VARIANT_HEADER: request.app[SETTINGS].variant_name})


async def get_model(request: web.Request) -> web.Response:
    """The loaded model's metadata (and evaluation, when the artifact has one)."""
    return json_answer(request.app[HOLDER].require().loaded_description())


async def swap_model(request: web.Request) -> web.Response:
    """Load, validate and warm another artifact, then serve it; the old one serves meanwhile."""
    swap = SwapModelRequest.model_validate_json(await _read_body(request) or b"{}")
    model_dir = Path(swap.model_dir)
    if not model_dir.is_absolute():
        raise BadRequest(f"model_dir must be an absolute path, got {swap.model_dir!r}")
    model = await request.app[HOLDER].load(model_dir)
    return json_answer(model.loaded_description())


async def _read_body(request: web.Request) -> bytes:
    limit = request.app[SETTINGS].max_body_bytes
    too_large = PayloadTooLarge(f"the request body is larger than the {limit:,}-byte limit")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise too_large from exc
