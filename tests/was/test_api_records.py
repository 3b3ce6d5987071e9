"""Listing, feedback, images and the OpenAPI document over the real API."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from shared.contracts.classification import ClassificationPage, ClassificationRecord
from tests.conftest import make_image_bytes

Client = TestClient[Any, Any]


async def _classify(was: Client, color: int = 120) -> ClassificationRecord:
    form = FormData()
    form.add_field("file", make_image_bytes(color=color), filename="g.jpg")
    response = await was.post("/api/v1/classifications", data=form)
    assert response.status == 201, await response.text()
    return ClassificationRecord.model_validate(await response.json())


async def test_cursor_pagination_over_seven_records(was: Client) -> None:
    created = [await _classify(was, color=30 * i) for i in range(7)]
    seen: list[str] = []
    url: str | None = "/api/v1/classifications?limit=3"
    pages = 0
    while url and pages < 10:
        response = await was.get(url)
        assert response.status == 200
        page = ClassificationPage.model_validate(await response.json())
        assert len(page.items) <= 3
        seen += [item.id for item in page.items]
        pages += 1
        if pages == 1:
            created.append(await _classify(was))  # newer: must not show up in later pages
        url = (
            f"/api/v1/classifications?limit=3&cursor={page.next_cursor}"
            if (page.next_cursor)
            else None
        )
    assert pages == 3
    assert seen == [r.id for r in reversed(created[:7])]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "cursor=%%%", "has_feedback=maybe"]
)
async def test_bad_list_queries_are_400(was: Client, query: str) -> None:
    response = await was.get(f"/api/v1/classifications?{query}")
    assert response.status == 400
    assert set((await response.json())["error"]) == {"code", "message", "request_id"}


async def test_feedback_is_validated_stored_and_exported(was: Client) -> None:
    record = await _classify(was)
    other = await _classify(was, color=10)
    labels = [item["label"] for item in (await (await was.get("/api/v1/labels")).json())["labels"]]
    corrected = next(label for label in labels if label != record.label)

    response = await was.post(
        f"/api/v1/classifications/{record.id}/feedback", json={"label": corrected}
    )
    assert response.status == 200, await response.text()
    updated = ClassificationRecord.model_validate(await response.json())
    assert updated.feedback_label == corrected
    assert updated.feedback_at is not None
    assert updated.label == record.label  # the model's answer is kept beside the correction

    unknown_label = await was.post(
        f"/api/v1/classifications/{other.id}/feedback", json={"label": "unicorn"}
    )
    assert unknown_label.status == 422
    assert (await unknown_label.json())["error"]["code"] == "unknown_label"
    missing = await was.post(
        "/api/v1/classifications/doesnotexist/feedback", json={"label": corrected}
    )
    assert missing.status == 404
    not_json = await was.post(
        f"/api/v1/classifications/{other.id}/feedback",
        data=b"{label",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status == 422
    extra = await was.post(
        f"/api/v1/classifications/{other.id}/feedback", json={"label": corrected, "x": 1}
    )
    assert extra.status == 422

    # What the pipeline pages through: only corrected records, with their images.
    page = ClassificationPage.model_validate(
        await (await was.get("/api/v1/classifications?has_feedback=true")).json()
    )
    assert [item.id for item in page.items] == [record.id]
    image = await was.get(page.items[0].image_url)
    assert image.status == 200 and image.content_type == "image/jpeg"


async def test_unknown_ids_are_404(was: Client) -> None:
    for path in ("/api/v1/classifications/nope", "/api/v1/classifications/nope/image"):
        response = await was.get(path)
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


async def test_openapi_document_is_valid_3_1_and_lists_paths_and_schemas(was: Client) -> None:
    response = await was.get("/api/v1/openapi.json")
    assert response.status == 200
    doc = await response.json()
    validate(doc)  # raises on an invalid OpenAPI document
    assert doc["openapi"].startswith("3.1")
    assert {
        "/classify/image",
        "/api/v1/classifications",
        "/api/v1/classifications/{id}",
        "/api/v1/classifications/{id}/feedback",
        "/api/v1/classifications/{id}/image",
        "/api/v1/models/current",
        "/api/v1/labels",
    } <= set(doc["paths"])
    schemas = doc["components"]["schemas"]
    for name in (
        "ClassificationRecord",
        "ClassificationPage",
        "FeedbackRequest",
        "TutorialResponse",
        "ErrorResponse",
        "ScoredLabel",
        "CurrentModel",
    ):
        assert name in schemas
    create = doc["paths"]["/api/v1/classifications"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClassificationRecord"
    }
    assert "multipart/form-data" in create["requestBody"]["content"]
    # Every $ref resolves inside the document.
    refs = _refs(doc)
    assert "#/components/schemas/ScoredLabel" in refs
    for ref in refs:
        _, _, kind, name = ref.split("/")
        assert name in doc["components"][kind], ref


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()
