"""The OpenAPI 3.1 document, generated from the route table and the pydantic contracts.

Schemas come from `model_json_schema` (with `$ref`s pointed at `components/schemas`),
so the document cannot drift from the wire format; paths come from `routes.ROUTES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.contracts.classification import (
    ClassificationRecord,
    ClassificationStatus,
    FeedbackRequest,
    ScoredLabel,
)
from shared.contracts.errors import ErrorResponse
from shared.image_formats import ACCEPTED_MIME_TYPES
from shared.open_paths import is_open

if TYPE_CHECKING:
    from services.was.routes import Route

__all__ = ["build_openapi"]

_REF = "#/components/schemas/{model}"
# What each error status means here; an operation lists the ones it can answer.
_ERROR_STATUSES = {
    400: "Bad request: bad multipart, empty file, not an image, bad query or cursor",
    401: "No API key (only when the gateway is configured with keys)",
    403: "The API key is not valid",
    404: "No such classification (or its image is gone)",
    409: "Conflict: the classification is still running",
    413: "Upload or image too large",
    415: "Unsupported media type",
    422: "Validation error (e.g. a label the deployed model does not have)",
    429: "Too many requests from this client; wait Retry-After seconds",
    500: "Internal error; quote the request id",
    502: "The model endpoint (or WAS, seen from the gateway) failed",
    503: "The model endpoint is unavailable; retry after Retry-After seconds",
    504: "The model endpoint (or WAS, seen from the gateway) timed out",
}
# Statuses any call through the gateway can meet: its rate limit, an upstream that
# fails or is slow, and an internal error.
_GATEWAY_STATUSES = (429, 500, 502, 504)
_WITH_RETRY_AFTER = (429, 503)
_HEADERS: dict[str, Any] = {
    "X-Request-ID": {
        "description": "The request id (yours if you sent a safe one); quote it when reporting",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    },
    "Location": {
        "description": "The URL of the new classification record",
        "schema": {"type": "string", "format": "uri-reference"},
    },
}
_SECURITY_SCHEMES = {
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "Required on /api/* when the gateway is configured with keys",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same key as `Authorization: Bearer <key>`",
    },
}
_ERROR_EXAMPLE = {
    "error": {
        "code": "not_found",
        "message": "no classification 'x'",
        "request_id": "4f9c2d0c8e6b4b7f",
    }
}


def _record_example() -> dict[str, Any]:
    """A record as the API returns it, built through the contract so it stays valid."""
    created = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    return ClassificationRecord(
        id="c_7Kq2mX9b",
        status=ClassificationStatus.COMPLETED,
        created_at=created,
        completed_at=created,
        filename="flower.jpg",
        content_type="image/jpeg",
        image_url="/api/v1/classifications/c_7Kq2mX9b/image",
        label="black_eyed_susan",
        display_name="Black-eyed Susan",
        description="A sunny North American wildflower with a dark centre.",
        confidence=0.97,
        top_k=[
            ScoredLabel(label="black_eyed_susan", display_name="Black-eyed Susan", score=0.97),
            ScoredLabel(label="astilbe", display_name="Astilbe", score=0.02),
        ],
        model_name="kkot-flowers",
        model_version="20260501-093000",
    ).model_dump(mode="json")


def _examples() -> dict[type[BaseModel], dict[str, Any]]:
    return {
        ClassificationRecord: _record_example(),
        FeedbackRequest: {"label": "astilbe"},
    }


def _header(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _schema_ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _image_body() -> dict[str, Any]:
    # An empty file is refused (400 empty_file), so a file has at least one byte.
    binary = {"type": "string", "contentMediaType": "application/octet-stream", "minLength": 1}
    content: dict[str, Any] = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": binary},
            }
        }
    }
    for media in ACCEPTED_MIME_TYPES:
        content[media] = {"schema": {"type": "string", "contentMediaType": media, "minLength": 1}}
    return {"required": True, "content": content}


def _response(status: int, spec: type[BaseModel] | str) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-ID": _header("X-Request-ID")}
    if status in (201, 202):
        headers["Location"] = _header("Location")
    if status == 202 or status in _WITH_RETRY_AFTER:
        headers["Retry-After"] = _header("Retry-After")
    if isinstance(spec, str):
        if spec == "image":
            return {
                "description": "The image bytes",
                "headers": headers,
                "content": {m: {"schema": {"type": "string"}} for m in ACCEPTED_MIME_TYPES},
            }
        return {
            "description": spec,
            "headers": headers,
            "content": {"application/json": {"schema": {}}},
        }
    media: dict[str, Any] = {"schema": _schema_ref(spec)}
    if spec in _examples():
        media["example"] = _examples()[spec]
    return {
        "description": spec.__doc__.strip().splitlines()[0] if spec.__doc__ else spec.__name__,
        "headers": headers,
        "content": {"application/json": media},
    }


def _error(status: int) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-ID": _header("X-Request-ID")}
    if status in _WITH_RETRY_AFTER:
        headers["Retry-After"] = _header("Retry-After")
    return {
        "description": _ERROR_STATUSES[status],
        "headers": headers,
        "content": {
            "application/json": {"schema": _schema_ref(ErrorResponse), "example": _ERROR_EXAMPLE}
        },
    }


def _errors_of(route: Route) -> list[int]:
    """The route's own error statuses plus the gateway's and, where keys apply, the key check's."""
    statuses = {*route.errors, *_GATEWAY_STATUSES}
    if not is_open(route.path):
        statuses |= {401, 403}
    if route.body is not None:
        statuses |= {400, 413}  # the gateway refuses an unreadable or oversized body
    if any(param.where == "query" for param in route.params):
        statuses.add(400)  # e.g. `lang=xx`, a cursor this server did not issue
    if "{" in route.path:
        statuses.add(400)  # the gateway refuses an id with an encoded slash or control bytes
    return sorted(statuses)


def _models(routes: Iterable[Route]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"ErrorResponse": ErrorResponse}
    for route in routes:
        candidates = [*route.responses.values(), route.body]
        for spec in candidates:
            if isinstance(spec, type) and issubclass(spec, BaseModel):
                found[spec.__name__] = spec
    return list(found.values())


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": list(route.tags),
        "responses": {
            str(status): _response(status, spec) for status, spec in route.responses.items()
        },
    }
    if is_open(route.path):
        operation["security"] = []  # the gateway never asks a key here
    if route.params:
        operation["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "description": p.description,
                "schema": p.schema,
            }
            for p in route.params
        ]
    if route.body == "image":
        operation["requestBody"] = _image_body()
    elif isinstance(route.body, type):
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _schema_ref(route.body),
                    "example": _examples().get(route.body, {}),
                }
            },
        }
    for status in _errors_of(route):
        operation["responses"].setdefault(str(status), _error(status))
    return operation


def build_openapi(routes: Iterable[Route]) -> dict[str, Any]:
    """The whole document for the documented (publicly routed) `routes`."""
    routes = tuple(route for route in routes if route.documented)
    models = _models(routes)
    # Responses are what we serialise, bodies what we validate; for these frozen,
    # extra-forbidding contracts both modes give the same shapes.
    _, definitions = models_json_schema(
        [(model, "serialization") for model in models], ref_template=_REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kkot API",
            "version": "1.0.0",
            "description": (
                "Classify flower photos, keep the records, collect feedback. Every error "
                'is `{"error": {"code", "message", "request_id"}}`. Browse it at '
                "[/api/docs](/api/docs)."
            ),
        },
        "servers": [{"url": "/", "description": "the gateway"}],
        # No key, or either way of sending one: keys are needed only when configured.
        "security": [{}, {"apiKey": []}, {"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "headers": _HEADERS,
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }
