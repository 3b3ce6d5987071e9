"""The pages. Handlers are thin: read the request, ask WAS, render a template; a WAS
failure becomes a friendly page in the reader's language, never raw JSON."""

from __future__ import annotations

import asyncio

from aiohttp import web

from services.web.i18n import LANGUAGE_COOKIE, LANGUAGES, messages
from services.web.keys import MODEL_CACHE, SETTINGS, WAS
from services.web.model_charts import example_bytes, model_charts
from services.web.relabel import full_choices, short_choices
from services.web.rendering import language_of, render, render_text
from services.web.uploads import UploadProblem, read_upload
from services.web.was_client import WasFailure
from shared.contracts.classification import (
    ClassificationRecord,
    CurrentModel,
    LabelInfo,
    RegisteredVersion,
)
from shared.contracts.model import Language
from shared.middleware import request_id_of
from shared.redirects import same_site_path

__all__ = [
    "classify_card",
    "classify_page",
    "classify_submit",
    "example_image",
    "example_submit",
    "feedback_submit",
    "health",
    "history_page",
    "label_names",
    "label_options",
    "model_page",
    "result_card",
    "result_page",
    "set_language",
    "status_page",
]

# WAS error codes that have their own message; the rest get the generic one.
_KNOWN_ERRORS = frozenset(
    {
        "invalid_image",
        "payload_too_large",
        "unsupported_media_type",
        "rate_limited",
        "not_found",
        "service_unavailable",
        "upstream_timeout",
        "upstream_error",
        "was_unreachable",
        "no_file",
        "empty_file",
        "bad_request",
        "feedback_conflict",
    }
)
# Codes that mean the same to a person as one that has a message.
_ALIASES = {
    "missing_file": "no_file",
    "invalid_multipart": "bad_request",
    "unsupported_image_format": "unsupported_media_type",
}


def failure_page(request: web.Request, code: str, status: int) -> web.Response:
    """The error page for a failure `code` (WAS's or ours)."""
    code = _ALIASES.get(code, code)
    key = f"error.{code}" if code in _KNOWN_ERRORS else "error.generic"
    # A WAS-side outage is a 502/503 of ours; the reader's own mistakes stay 4xx.
    shown = status if 400 <= status < 500 else (503 if status == 503 else 502)
    return render(
        request, "error.html", status=shown, message_key=key, request_id=request_id_of(request)
    )


async def _labels(request: web.Request, version: str | None) -> list[LabelInfo]:
    """The labels of model `version` (cached per version); empty when WAS can't say."""
    try:
        return await request.app[MODEL_CACHE].labels(
            version, language_of(request), request_id_of(request)
        )
    except WasFailure:
        return []


async def label_names(request: web.Request) -> dict[str, str]:
    """The deployed model's display name per label, in the reader's language."""
    model = await _current_model(request)
    labels = await _labels(request, model.version) if model else []
    return {info.label: info.display_name for info in labels}


async def _current_model(request: web.Request) -> CurrentModel | None:
    """The deployed model as WAS describes it (cached per version); None when WAS
    can't say."""
    try:
        return await request.app[MODEL_CACHE].current_model(
            language_of(request), request_id_of(request)
        )
    except WasFailure:
        return None


async def classify_page(request: web.Request) -> web.Response:
    model = await _current_model(request)
    return render(
        request,
        "classify.html",
        max_bytes=request.app[SETTINGS].max_upload_bytes,
        examples=model.examples if model else [],
        model_version=model.version if model else "",
    )


async def _example(request: web.Request, index: str) -> bytes:
    """The bytes of example photo `index` of the deployed model; 404 when there is none."""
    model = await _current_model(request)
    if model is None or not index.isdigit() or int(index) >= len(model.examples):
        raise web.HTTPNotFound()
    return example_bytes(model.examples[int(index)])


async def example_image(request: web.Request) -> web.Response:
    """An example photo (its URL carries the model version, so it caches well)."""
    data = await _example(request, request.match_info["n"])
    return web.Response(
        body=data, content_type="image/jpeg", headers={"Cache-Control": "public, max-age=3600"}
    )


async def example_submit(request: web.Request) -> web.StreamResponse:
    """One click on an example: classify it like an upload, then show its result."""
    form = await request.post()
    field = form.get("n")
    index = field if isinstance(field, str) else ""
    data = await _example(request, index)
    try:
        record = await request.app[WAS].classify(
            data, f"example-{index}.jpg", "image/jpeg", language_of(request), request_id_of(request)
        )
    except WasFailure as failure:
        return failure_page(request, failure.code, failure.status)
    location = request.app.router["result"].url_for(id=record.id)
    raise web.HTTPSeeOther(location=str(location))


async def _classify_upload(request: web.Request) -> ClassificationRecord | web.Response:
    """The form's photo classified by WAS, or the page that explains why not."""
    try:
        upload = await read_upload(request, request.app[SETTINGS].max_upload_bytes)
        return await request.app[WAS].classify(
            upload.data,
            upload.filename,
            upload.content_type,
            language_of(request),
            request_id_of(request),
        )
    except UploadProblem as problem:
        return failure_page(request, problem.code, problem.status)
    except WasFailure as failure:
        return failure_page(request, failure.code, failure.status)


async def classify_submit(request: web.Request) -> web.StreamResponse:
    """The no-JavaScript path: the form's photo goes to WAS, then to its result page."""
    record = await _classify_upload(request)
    if isinstance(record, web.Response):
        return record
    location = request.app.router["result"].url_for(id=record.id)
    raise web.HTTPSeeOther(location=str(location))


async def classify_card(request: web.Request) -> web.Response:
    """The script's path: the same form post answered with the result card itself, so
    a photo costs the browser one exchange (and web one call to WAS)."""
    record = await _classify_upload(request)
    if isinstance(record, web.Response):
        return record
    return _card(request, record)


async def _record(request: web.Request) -> ClassificationRecord | web.Response:
    try:
        return await request.app[WAS].get(
            request.match_info["id"], language_of(request), request_id_of(request)
        )
    except WasFailure as failure:
        return failure_page(request, failure.code, failure.status)


async def result_page(request: web.Request) -> web.Response:
    record = await _record(request)
    if isinstance(record, web.Response):
        return record
    labels = await _labels(request, record.model_version)
    return render(
        request,
        "result.html",
        record=record,
        choices=full_choices(labels),
        options_url=None,
        thanks="thanks" in request.query,
    )


def _card(request: web.Request, record: ClassificationRecord) -> web.Response:
    """The card alone with the light drop-down (the script fills in every label from
    `label_options`, which the browser caches per model version)."""
    language = language_of(request)
    held = request.app[MODEL_CACHE].cached_labels(record.model_version, language)
    options_url = None
    if record.model_version:
        route = request.app.router["label_options"]
        options_url = str(route.url_for(version=record.model_version).with_query(lang=language))
    html = render_text(
        request,
        "_result_card.html",
        record=record,
        choices=short_choices(record, held),
        options_url=options_url,
        thanks=False,
    )
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


async def result_card(request: web.Request) -> web.Response:
    """The result card of a stored record, for a script to drop into a page."""
    record = await _record(request)
    if isinstance(record, web.Response):
        return record
    return _card(request, record)


async def label_options(request: web.Request) -> web.Response:
    """Every label of model `version` as `<option>`s for the card's drop-down; the URL
    names the version and the language, so the browser may keep it for a day."""
    version = request.match_info["version"]
    language = language_of(request)
    labels = request.app[MODEL_CACHE].cached_labels(version, language)
    if labels is None:
        # Only the deployed model's labels are fetched (a made-up version costs WAS
        # no 205 KB answer): another version keeps the card's short list.
        model = await _current_model(request)
        if model is None or model.version != version:
            raise web.HTTPNotFound()
        labels = await _labels(request, version)
    if not labels:
        raise web.HTTPNotFound()
    html = render_text(request, "_label_options.html", choices=full_choices(labels))
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


async def feedback_submit(request: web.Request) -> web.StreamResponse:
    """The no-JavaScript feedback form."""
    form = await request.post()
    label = form.get("label")
    if not isinstance(label, str) or not label:
        return failure_page(request, "bad_request", 400)
    classification_id = request.match_info["id"]
    version = form.get("version")
    try:
        await request.app[WAS].feedback(
            classification_id,
            label,
            language_of(request),
            request_id_of(request),
            if_match=version if isinstance(version, str) and version.isdecimal() else None,
        )
    except WasFailure as failure:
        code = "feedback_conflict" if failure.status == 409 else failure.code
        return failure_page(request, code, failure.status)
    location = request.app.router["result"].url_for(id=classification_id)
    raise web.HTTPSeeOther(location=str(location.with_query(thanks="1")))


async def history_page(request: web.Request) -> web.Response:
    cursor = request.query.get("cursor") or None
    try:
        page = await request.app[WAS].list(
            language_of(request),
            limit=request.app[SETTINGS].history_page_size,
            cursor=cursor,
            request_id=request_id_of(request),
        )
    except WasFailure as failure:
        return failure_page(request, failure.code, failure.status)
    return render(request, "history.html", page=page, is_first=cursor is None)


async def _versions(request: web.Request, language: Language) -> list[RegisteredVersion]:
    """Every registered model version; empty when WAS can't say."""
    try:
        return (await request.app[WAS].versions(language, request_id_of(request))).versions
    except WasFailure:
        return []


async def model_page(request: web.Request) -> web.Response:
    language = language_of(request)
    try:
        # Independent questions to WAS go out together.
        model, versions = await asyncio.gather(
            request.app[MODEL_CACHE].current_model(language, request_id_of(request)),
            _versions(request, language),
        )
    except WasFailure as failure:
        return failure_page(request, failure.code, failure.status)
    names = {info.label: info.display_name for info in await _labels(request, model.version)}
    return render(
        request,
        "model.html",
        model=model,
        names=names,
        charts=model_charts(model, versions, names, messages(language)),
        versions=versions,
    )


async def status_page(request: web.Request) -> web.Response:
    """WAS's liveness and, through WAS's readiness, the model endpoint's."""
    was = request.app[WAS]
    health, ready = await asyncio.gather(
        was.health(request_id_of(request)), was.ready(request_id_of(request))
    )
    endpoint = None
    if ready.readiness is not None:
        endpoint = ready.readiness.dependencies
    return render(request, "status.html", health=health, ready=ready, dependencies=endpoint)


async def set_language(request: web.Request) -> web.StreamResponse:
    """The language switch: remember the choice in a cookie and go back."""
    language = request.match_info["lang"]
    if language not in LANGUAGES:
        raise web.HTTPNotFound()
    target = same_site_path(request.query.get("next"))
    response = web.HTTPSeeOther(location=target)
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        path="/",
    )
    raise response


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "service": "web"})
