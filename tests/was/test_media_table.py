"""One media table (`shared.image_formats`) for every service: for each format in it,
the model server and WAS accept or refuse the same bytes alike (same status, same error
code), and what WAS stores and serves is labelled with the table's MIME type and
extension (GIF and BMP used to be stored as `application/x-image`; WAS refused TIFF
that the model server accepted)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import FormData
from PIL import Image

from cfn.sagemaker_pipeline import pipeline_definition
from services.was.openapi import build_openapi
from services.was.routes import ROUTES
from shared.image_formats import (
    ACCEPTED_MIME_TYPES,
    GENERIC_IMAGE_TYPES,
    IMAGE_FORMATS,
    ImageFormat,
    sniff_format,
)

# Bytes of the formats Pillow cannot write, enough for the magic numbers.
_MAGIC_ONLY = {
    "HEIF/AVIF": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
    "SVG": b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"></svg>',
    "PDF": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(64),
    "JPEG 2000": b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(64),
    "Photoshop": b"8BPS\x00\x01" + bytes(64),
    "camera raw": b"II*\x00\x10\x00\x00\x00CR\x02\x00" + bytes(64),
}


def sample(image_format: ImageFormat) -> bytes:
    """A small picture in `image_format` (magic bytes for formats Pillow cannot write)."""
    if image_format.name in _MAGIC_ONLY:
        return _MAGIC_ONLY[image_format.name]
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 90)).save(out, format=image_format.name)
    return out.getvalue()


def test_every_format_in_the_table_is_sniffed_as_itself() -> None:
    for image_format in IMAGE_FORMATS:
        assert sniff_format(sample(image_format)) == image_format.name


async def _model_answer(url: str, data: bytes, content_type: str) -> tuple[int, str | None]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/invocations", data=data, headers={"Content-Type": content_type}
        ) as response,
    ):
        body = await response.json()
        return response.status, (body.get("error") or {}).get("code")


async def _was_answer(was: Any, data: bytes, content_type: str, raw: bool) -> tuple[int, Any]:
    if raw:
        response = await was.post(
            "/api/v1/classifications", data=data, headers={"Content-Type": content_type}
        )
    else:
        form = FormData()
        form.add_field("file", data, filename="photo", content_type=content_type)
        response = await was.post("/api/v1/classifications", data=form)
    return response.status, await response.json()


@pytest.mark.parametrize("image_format", IMAGE_FORMATS, ids=lambda f: f.name)
async def test_model_server_and_was_agree_on_each_format(
    image_format: ImageFormat, model_server_url: str, was: Any
) -> None:
    data = sample(image_format)
    # A raw body under its own MIME type or a generic label is judged like the model
    # server judges it under that label; a form's file by its bytes alone (as the model
    # server judges a generic label).
    generic = GENERIC_IMAGE_TYPES[0]
    cases = [
        (image_format.mime_type, True, image_format.mime_type),
        (generic, True, generic),
        (image_format.mime_type, False, generic),
    ]
    for label, raw, model_label in cases:
        model_status, model_code = await _model_answer(model_server_url, data, model_label)
        status, body = await _was_answer(was, data, label, raw)
        if image_format.accepted:
            assert model_status == 200, (model_label, model_code)
            assert status in (201, 202), (label, raw, body)
            assert body["content_type"] == image_format.mime_type
        else:
            assert model_status == status == 415, (label, raw, body)
            assert body["error"]["code"] == model_code, (label, raw)


@pytest.mark.parametrize(
    "image_format", [f for f in IMAGE_FORMATS if f.accepted], ids=lambda f: f.name
)
async def test_was_stores_and_serves_the_tables_type(image_format: ImageFormat, was: Any) -> None:
    form = FormData()
    form.add_field("file", sample(image_format), filename="photo", content_type="image/jpeg")
    created = await was.post("/api/v1/classifications", data=form)
    record = await created.json()
    assert record["content_type"] == image_format.mime_type
    image = await was.get(f"/api/v1/classifications/{record['id']}/image")
    assert image.status == 200
    assert image.headers["Content-Type"] == image_format.mime_type
    assert await image.read() == sample(image_format)


def _steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step
        arguments = step.get("Arguments", {})
        yield from _steps([*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])])


def test_the_sagemaker_pipeline_registers_models_with_the_tables_types() -> None:
    # (The registry `kkot pipeline run` writes to: tests/aws/test_sagemaker_registry.py.)
    steps = json.loads(pipeline_definition())["Steps"]
    register = next(step for step in _steps(steps) if step["Type"] == "RegisterModel")
    declared = register["Arguments"]["InferenceSpecification"]["SupportedContentTypes"]
    assert declared == [*ACCEPTED_MIME_TYPES, "application/json"]


def test_the_api_document_lists_the_tables_accepted_types() -> None:
    document = build_openapi(ROUTES)
    upload = document["paths"]["/api/v1/classifications"]["post"]["requestBody"]["content"]
    assert set(upload) == {"multipart/form-data", *ACCEPTED_MIME_TYPES}
