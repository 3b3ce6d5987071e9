"""Thin HTTP handlers: parse, call the service, render a contract."""

from __future__ import annotations

import asyncio
import hashlib
import time
from http import HTTPStatus

import aiohttp
from aiohttp import web

from services.was import keys
from services.was.cursors import InvalidCursor
from services.was.language import negotiate_language
from services.was.records import StoredClassification
from services.was.uploads import read_upload
from shared.catalog import label_text
from shared.contracts.classification import (
    ClassificationPage,
    DependencyHealth,
    FeedbackRequest,
    LabelInfo,
    LabelsResponse,
    ReadinessResponse,
    TutorialResponse,
    TutorialResult,
)
from shared.contracts.model import Language
from shared.errors import (
    BadRequest,
    InvalidPayload,
    NotFound,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from shared.http.answers import json_answer
from shared.middleware import request_id_of
from shared.params import parse_bounded_int
from shared.principal import ANONYMOUS, PRINCIPAL_HEADER
from shared.resilience import BreakerState
from shared.storage import BlobNotFound

_DEFAULT_LIMIT = 20
_MAX_LIMIT = 100


def _language(request: web.Request) -> Language:
    settings = request.app[keys.SETTINGS]
    return negotiate_language(request, settings.languages, settings.default_language)


def _localized(response: web.Response, language: Language) -> web.Response:
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language"
    return response


def _model_headers(stored: StoredClassification) -> dict[str, str]:
    """The model and the timing split as headers too (browser devtools show
    Server-Timing), so even the tutorial's fixed body shape carries them."""
    headers: dict[str, str] = {}
    if stored.model_name and stored.model_version:
        headers["X-Model"] = f"{stored.model_name}/{stored.model_version}"
    timing = stored.timing
    if timing is not None:
        parts = [f"was;dur={timing.was_ms:.1f}", f"endpoint;dur={timing.endpoint_ms:.1f}"]
        if timing.model_ms is not None:
            parts.append(f"model;dur={timing.model_ms:.1f}")
        headers["Server-Timing"] = ", ".join(parts)
    return headers


def _principal(request: web.Request) -> str:
    """Who the request acts for, as the gateway (or web for a person) said."""
    return request.headers.get(PRINCIPAL_HEADER) or ANONYMOUS


def _etag(stored: StoredClassification) -> dict[str, str]:
    return {"ETag": f'"{stored.version}"'}


def _if_match(request: web.Request) -> int | None:
    """The record version named by `If-Match` (`"3"`), None when absent or `*`."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    return parse_bounded_int(value, name="if_match", default=0, low=0, high=10**9)


def _location(request: web.Request, stored: StoredClassification) -> str:
    return str(request.app.router["classifications_get"].url_for(id=stored.id))


async def health(request: web.Request) -> web.Response:
    """Liveness only: the process answers."""
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """Readiness: the model endpoint is reachable and the store answers."""
    dependencies = await asyncio.gather(_check_endpoint(request), _check_store(request))
    body = ReadinessResponse(ready=all(d.ok for d in dependencies), dependencies=dependencies)
    return json_answer(body, 200 if body.ready else 503)


async def _check_endpoint(request: web.Request) -> DependencyHealth:
    settings = request.app[keys.SETTINGS]
    breaker = request.app[keys.ENDPOINT].breaker
    started = time.perf_counter()
    local = settings.local_endpoint_url
    if local is None:
        # SageMaker Runtime has no ping; the breaker is our view of the endpoint.
        ok = breaker.state is not BreakerState.OPEN
        return DependencyHealth(name="model-endpoint", ok=ok, detail=f"circuit {breaker.state}")
    try:
        # A probe must answer quickly: bound it by the connect timeout, not the read one.
        timeout = aiohttp.ClientTimeout(total=settings.connect_timeout_s + 1)
        async with request.app[keys.HTTP].get(f"{local}/ping", timeout=timeout) as response:
            ok, detail = response.status == 200, f"ping {response.status}"
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        ok, detail = False, f"unreachable: {type(exc).__name__}"
    if ok and request.app[keys.MODEL_INFO].snapshot is None:
        await request.app[keys.MODEL_INFO].refresh()
    return DependencyHealth(
        name="model-endpoint",
        ok=ok,
        detail=f"{detail}; circuit {breaker.state}",
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )


async def _check_store(request: web.Request) -> DependencyHealth:
    started = time.perf_counter()
    try:
        await request.app[keys.STORE].ping()
        ok, detail = True, "ok"
    except Exception as exc:
        ok, detail = False, type(exc).__name__
    return DependencyHealth(
        name="classification-store",
        ok=ok,
        detail=detail,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )


async def _classify(request: web.Request, *, background: bool) -> StoredClassification:
    started = time.perf_counter()
    settings = request.app[keys.SETTINGS]
    service = request.app[keys.SERVICE]
    language = _language(request)
    upload = await read_upload(
        request, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels
    )
    stored = await service.submit(
        upload,
        language=language,
        request_id=request_id_of(request),
        background=background,
        principal=_principal(request),
    )
    if background:
        return stored
    return await service.complete(stored, upload.data, language=language, started=started)


async def classify_tutorial(request: web.Request) -> web.Response:
    """`POST /classify/image`: the tutorial's `{"result": {no, name, acc, description}}`."""
    language = _language(request)
    stored = await _classify(request, background=False)
    best = stored.best
    if best is None:
        raise ServiceUnavailable("the model returned no label")
    text = label_text(best.label, language, *request.app[keys.SERVICE].catalogs())
    result = TutorialResult(
        no=best.index, name=text.name, acc=best.score, description=text.description
    )
    return _localized(
        json_answer(TutorialResponse(result=result), headers=_model_headers(stored)), language
    )


async def create_classification(request: web.Request) -> web.Response:
    """`POST /api/v1/classifications`: 201 with the record, or 202 for `respond-async`."""
    language = _language(request)
    background = "respond-async" in request.headers.get("Prefer", "").lower()
    stored = await _classify(request, background=background)
    record = request.app[keys.SERVICE].render(stored, language)
    headers = {"Location": _location(request, stored), **_model_headers(stored)}
    if background:
        headers["Preference-Applied"] = "respond-async"
        headers["Retry-After"] = "1"
    return _localized(json_answer(record, 202 if background else 201, headers=headers), language)


async def get_classification(request: web.Request) -> web.Response:
    """`GET /api/v1/classifications/{id}`."""
    language = _language(request)
    service = request.app[keys.SERVICE]
    stored = await service.get(request.match_info["id"])
    return _localized(
        json_answer(service.render(stored, language), headers=_etag(stored)), language
    )


def _limit(request: web.Request) -> int:
    return parse_bounded_int(
        request.query.get("limit"), name="limit", default=_DEFAULT_LIMIT, low=1, high=_MAX_LIMIT
    )


def _has_feedback(request: web.Request) -> bool | None:
    raw = request.query.get("has_feedback")
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BadRequest("has_feedback must be true or false", code="invalid_filter")


async def list_classifications(request: web.Request) -> web.Response:
    """`GET /api/v1/classifications?limit=&cursor=&has_feedback=`."""
    language = _language(request)
    service = request.app[keys.SERVICE]
    try:
        items, next_cursor = await service.store.list(
            limit=_limit(request),
            cursor=request.query.get("cursor") or None,
            has_feedback=_has_feedback(request),
        )
    except InvalidCursor as exc:
        raise BadRequest(str(exc), code="invalid_cursor") from exc
    page = ClassificationPage(
        items=[service.render(item, language) for item in items], next_cursor=next_cursor
    )
    return _localized(json_answer(page), language)


async def post_feedback(request: web.Request) -> web.Response:
    """`POST /api/v1/classifications/{id}/feedback` with a `FeedbackRequest`."""
    language = _language(request)
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send the feedback as application/json")
    body = await request.read()
    if not body:
        raise InvalidPayload('empty body; send {"label": "..."}')
    feedback = FeedbackRequest.model_validate_json(body)
    service = request.app[keys.SERVICE]
    stored = await service.add_feedback(
        request.match_info["id"],
        feedback.label,
        principal=_principal(request),
        if_match=_if_match(request),
    )
    return _localized(
        json_answer(service.render(stored, language), headers=_etag(stored)), language
    )


async def delete_classification(request: web.Request) -> web.Response:
    """`DELETE /api/v1/classifications/{id}`: the record and its photo are removed."""
    await request.app[keys.SERVICE].delete(request.match_info["id"], principal=_principal(request))
    return web.Response(status=204)


async def get_image(request: web.Request) -> web.Response:
    """`GET /api/v1/classifications/{id}/image`: the stored image, never sniffed."""
    service = request.app[keys.SERVICE]
    stored = await service.get(request.match_info["id"])
    try:
        blob = await service.blobs.get(stored.image_key)
    except BlobNotFound:
        raise NotFound("the image of this classification is gone") from None
    return web.Response(
        body=blob.data,
        content_type=blob.content_type,
        headers={
            # An id's image never changes.
            "Cache-Control": "private, max-age=31536000, immutable",
            "ETag": f'"{stored.id}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


async def current_model(request: web.Request) -> web.Response:
    """`GET /api/v1/models/current`."""
    info = request.app[keys.MODEL_INFO]
    snapshot = info.snapshot or await info.refresh()
    if snapshot is None:
        raise ServiceUnavailable("the deployed model is not known yet")
    # The answer changes only with the model (its example photos make it 100-300 KB):
    # a caller holding this model's ETag gets a bodyless 304.
    tag = hashlib.sha256(f"{snapshot.name}\0{snapshot.version}".encode()).hexdigest()[:20]
    etag = f'"{tag}"'
    held = request.headers.get("If-None-Match", "")
    if etag in (t.strip().removeprefix("W/") for t in held.split(",")):
        return web.Response(status=HTTPStatus.NOT_MODIFIED, headers={"ETag": etag})
    return json_answer(snapshot.public(), headers={"ETag": etag})


async def labels(request: web.Request) -> web.Response:
    """`GET /api/v1/labels`: labels of the deployed model with display text."""
    language = _language(request)
    service = request.app[keys.SERVICE]
    names = await service.current_labels()
    snapshot = service.model_info.snapshot
    catalogs = service.catalogs()
    infos = []
    for label in names:
        text = label_text(label, language, *catalogs)
        infos.append(LabelInfo(label=label, display_name=text.name, description=text.description))
    version = snapshot.version if snapshot else "unknown"
    return _localized(json_answer(LabelsResponse(model_version=version, labels=infos)), language)


async def openapi(request: web.Request) -> web.Response:
    """`GET /api/v1/openapi.json`."""
    return web.json_response(request.app[keys.OPENAPI])
