"""The OpenAPI 3.1 document, generated from the route table and the pydantic contracts.

Schemas come from `model_json_schema` (with `$ref`s pointed at `components/schemas`),
so the document cannot drift from the wire format; paths come from `routes.ROUTES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.contracts.errors import ErrorResponse

if TYPE_CHECKING:
    from services.was.routes import Route

__all__ = ["build_openapi"]

_REF = "#/components/schemas/{model}"
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp")
_ERROR_STATUSES = {
    400: "Bad request (bad multipart, empty file, not an image, bad query)",
    404: "Not found",
    413: "Upload or image too large",
    415: "Unsupported media type",
    422: "Validation error",
    500: "Internal error",
    502: "The model endpoint failed",
    503: "The model endpoint is unavailable (Retry-After)",
    504: "The model endpoint timed out",
}


def _schema_ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _image_body() -> dict[str, Any]:
    binary = {"type": "string", "contentMediaType": "application/octet-stream"}
    content: dict[str, Any] = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": binary},
            }
        }
    }
    for media in _IMAGE_TYPES:
        content[media] = {"schema": {"type": "string", "contentMediaType": media}}
    return {"required": True, "content": content}


def _response(spec: type[BaseModel] | str) -> dict[str, Any]:
    if isinstance(spec, str):
        if spec == "image":
            return {
                "description": "The image bytes",
                "content": {m: {"schema": {"type": "string"}} for m in _IMAGE_TYPES},
            }
        return {"description": spec, "content": {"application/json": {"schema": {}}}}
    return {
        "description": spec.__doc__.strip().splitlines()[0] if spec.__doc__ else spec.__name__,
        "content": {"application/json": {"schema": _schema_ref(spec)}},
    }


def _models(routes: Iterable[Route]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"ErrorResponse": ErrorResponse}
    for route in routes:
        candidates = [*route.responses.values(), route.body]
        for spec in candidates:
            if isinstance(spec, type) and issubclass(spec, BaseModel):
                found[spec.__name__] = spec
    return list(found.values())


def build_openapi(routes: Iterable[Route]) -> dict[str, Any]:
    """The whole document for `routes`."""
    routes = tuple(routes)
    models = _models(routes)
    # Responses are what we serialise, bodies what we validate; for these frozen,
    # extra-forbidding contracts both modes give the same shapes.
    _, definitions = models_json_schema(
        [(model, "serialization") for model in models], ref_template=_REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "operationId": route.name,
            "summary": route.summary,
            "tags": list(route.tags),
            "responses": {str(status): _response(spec) for status, spec in route.responses.items()},
        }
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
                "content": {"application/json": {"schema": _schema_ref(route.body)}},
            }
        if route.path.startswith(("/api/", "/classify/")):
            for status, description in _ERROR_STATUSES.items():
                operation["responses"].setdefault(
                    str(status),
                    {
                        "description": description,
                        "content": {"application/json": {"schema": _schema_ref(ErrorResponse)}},
                    },
                )
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kkot WAS",
            "version": "1.0.0",
            "description": "Classify flower photos, keep the records, collect feedback.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {})},
    }
