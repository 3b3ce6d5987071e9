"""Every WAS route, named, in one table that also feeds the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from services.was import handlers
from shared.contracts.classification import (
    ClassificationPage,
    ClassificationRecord,
    CurrentModel,
    FeedbackRequest,
    LabelsResponse,
    ReadinessResponse,
    TutorialResponse,
)

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
    """One route: how aiohttp dispatches it and how OpenAPI documents it."""

    method: str
    path: str
    handler: handlers.Handler
    name: str
    summary: str
    responses: dict[int, type[BaseModel] | str]
    body: Body = None
    params: tuple[Param, ...] = ()
    tags: tuple[str, ...] = field(default=("classifications",))


_ID = Param("id", "path", {"type": "string"}, "classification id", required=True)
_LANG = Param("lang", "query", {"type": "string", "enum": ["ko", "en"]}, "display language")
_PREFER = Param(
    "Prefer", "header", {"type": "string", "enum": ["respond-async"]}, "run as a background job"
)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", handlers.health, "health", "Liveness", {200: "alive"}, tags=("ops",)),
    Route(
        "GET",
        "/ready",
        handlers.ready,
        "ready",
        "Readiness: the model endpoint and the store answer",
        {200: ReadinessResponse, 503: ReadinessResponse},
        tags=("ops",),
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
            Param("cursor", "query", {"type": "string"}, "next_cursor of the previous page"),
            Param(
                "has_feedback",
                "query",
                {"type": "boolean"},
                "only records with (true) or without (false) feedback",
            ),
            _LANG,
        ),
    ),
    Route(
        "GET",
        "/api/v1/classifications/{id}",
        handlers.get_classification,
        "classifications_get",
        "One record",
        {200: ClassificationRecord},
        params=(_ID, _LANG),
    ),
    Route(
        "DELETE",
        "/api/v1/classifications/{id}",
        handlers.delete_classification,
        "classifications_delete",
        "Delete a record and its photo (a key's records: only by that key)",
        {204: "deleted"},
        params=(_ID,),
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
    ),
    Route(
        "GET",
        "/api/v1/classifications/{id}/image",
        handlers.get_image,
        "classifications_image",
        "The uploaded image",
        {200: "image"},
        params=(_ID,),
    ),
    Route(
        "GET",
        "/api/v1/models/current",
        handlers.current_model,
        "models_current",
        "The deployed model",
        {200: CurrentModel},
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
)


def setup_routes(app: web.Application) -> None:
    """Register every route under its name."""
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler, name=route.name)
