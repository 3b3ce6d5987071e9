"""Every WAS route, named, in one table that also feeds the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel

from services.was import api_docs, handlers, versions
from shared.contracts.classification import (
    ClassificationPage,
    ClassificationRecord,
    CurrentModel,
    FeedbackRequest,
    LabelsResponse,
    ModelVersions,
    ReadinessResponse,
    TutorialResponse,
)
from shared.metrics.http import metrics_endpoint

__all__ = ["ROUTES", "Param", "Route", "setup_routes"]

Body = Literal["image"] | type[BaseModel] | None


@dataclass(frozen=True)
class Param:
    """A query or path parameter, as the OpenAPI document describes it."""

    name: str
    where: Literal["query", "path", "header"]
    schema: dict[str, object]
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Route:
    """One route: how aiohttp dispatches it and how OpenAPI documents it.

    `errors` are the error statuses this operation itself can answer; the ones every
    call through the gateway can meet (429, 502, 504, 500 and, on `/api/`, 401/403)
    are added by the OpenAPI builder. `documented=False` keeps a route (probes the
    gateway does not route, the docs page itself) out of the public document.
    """

    method: str
    path: str
    handler: Handler
    name: str
    summary: str
    responses: dict[int, type[BaseModel] | str]
    body: Body = None
    params: tuple[Param, ...] = ()
    tags: tuple[str, ...] = field(default=("classifications",))
    errors: tuple[int, ...] = ()
    documented: bool = True


_ID = Param("id", "path", {"type": "string"}, "classification id", required=True)
_LANG = Param("lang", "query", {"type": "string", "enum": ["ko", "en"]}, "display language")
_PREFER = Param(
    "Prefer", "header", {"type": "string", "enum": ["respond-async"]}, "run as a background job"
)

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/health",
        handlers.health,
        "health",
        "Liveness",
        {200: "alive"},
        tags=("ops",),
        documented=False,
    ),
    Route(
        "GET",
        "/ready",
        handlers.ready,
        "ready",
        "Readiness: the model endpoint and the store answer",
        {200: ReadinessResponse, 503: ReadinessResponse},
        tags=("ops",),
        documented=False,
    ),
    Route(
        "GET",
        "/metrics",
        metrics_endpoint,
        "metrics",
        "Prometheus metrics (internal: the gateway never forwards it)",
        {200: "Prometheus text format"},
        tags=("ops",),
        documented=False,
    ),
    Route(
        "POST",
        "/classify/image",
        handlers.classify_tutorial,
        "classify_image",
        "Classify an image (the tutorial's contract)",
        {200: TutorialResponse},
        body="image",
        params=(_LANG,),
        tags=("tutorial",),
        errors=(400, 413, 415, 503),
    ),
    Route(
        "POST",
        "/api/v1/classifications",
        handlers.create_classification,
        "classifications_create",
        "Classify an image and keep the record",
        {201: ClassificationRecord, 202: ClassificationRecord},
        body="image",
        params=(_LANG, _PREFER),
        errors=(400, 413, 415, 503),
    ),
    Route(
        "GET",
        "/api/v1/classifications",
        handlers.list_classifications,
        "classifications_list",
        "Records, newest first, with cursor pagination",
        {200: ClassificationPage},
        params=(
            Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100}),
            Param(
                "cursor",
                "query",
                {"type": "string"},
                "next_cursor of the previous page (opaque: empty is the first page, any"
                " value this server did not issue is 400)",
            ),
            Param(
                "has_feedback",
                "query",
                {"type": "boolean"},
                "only records with (true) or without (false) feedback",
            ),
            _LANG,
        ),
        errors=(400,),
    ),
    Route(
        "GET",
        "/api/v1/classifications/{id}",
        handlers.get_classification,
        "classifications_get",
        "One record",
        {200: ClassificationRecord},
        params=(_ID, _LANG),
        errors=(404,),
    ),
    Route(
        "DELETE",
        "/api/v1/classifications/{id}",
        handlers.delete_classification,
        "classifications_delete",
        "Delete a record and its photo (a key's records: only by that key)",
        {204: "deleted"},
        params=(_ID,),
        errors=(403, 404),
    ),
    Route(
        "POST",
        "/api/v1/classifications/{id}/feedback",
        handlers.post_feedback,
        "classifications_feedback",
        "Correct a record's label (one of the model's labels); replacing someone "
        "else's correction needs If-Match with the record's ETag",
        {200: ClassificationRecord},
        body=FeedbackRequest,
        params=(
            _ID,
            _LANG,
            Param("If-Match", "header", {"type": "string"}, "the record's ETag you saw"),
        ),
        errors=(400, 404, 409, 413, 415, 422, 503),
    ),
    Route(
        "GET",
        "/api/v1/classifications/{id}/image",
        handlers.get_image,
        "classifications_image",
        "The uploaded image",
        {200: "image"},
        params=(_ID,),
        errors=(404,),
    ),
    Route(
        "GET",
        "/api/v1/models/current",
        handlers.current_model,
        "models_current",
        "The deployed model; send its ETag in If-None-Match to get 304 while it stays",
        {200: CurrentModel, 304: "not modified"},
        params=(Param("If-None-Match", "header", {"type": "string"}, "the ETag you hold"),),
        tags=("models",),
        errors=(503,),
    ),
    Route(
        "GET",
        "/api/v1/models",
        versions.model_versions,
        "models_list",
        "Every registered model version, oldest first, the deployed one marked",
        {200: ModelVersions},
        tags=("models",),
    ),
    Route(
        "GET",
        "/api/v1/labels",
        handlers.labels,
        "labels",
        "The deployed model's labels with display text",
        {200: LabelsResponse},
        params=(_LANG,),
        tags=("models",),
        errors=(503,),
    ),
    Route(
        "GET",
        "/api/v1/openapi.json",
        handlers.openapi,
        "openapi",
        "This document",
        {200: "OpenAPI 3.1 document"},
        tags=("ops",),
    ),
    Route(
        "GET",
        "/api/docs",
        api_docs.docs_page,
        "docs",
        "This document, browsable (Swagger UI)",
        {200: "HTML page"},
        tags=("ops",),
        documented=False,
    ),
    Route(
        "GET",
        "/api/docs/{file}",
        api_docs.docs_asset,
        "docs_asset",
        "The docs page's scripts and styles",
        {200: "file"},
        tags=("ops",),
        documented=False,
    ),
)


def setup_routes(app: web.Application) -> None:
    """Register every route under its name."""
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler, name=route.name)
