"""Every kind of bad input gets a clear 4xx in the one error shape; the server carries on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from shared.contracts.errors import ErrorResponse
from shared.contracts.prediction import Prediction, RuntimeModelError
from tests.model.conftest import MakeClient
from tests.model.images import encode, make_image_bytes, png_with_size, structured_image

Client = TestClient[Any, Any]

JPEG = make_image_bytes("JPEG")
PNG = encode(structured_image((200, 150)), "PNG")

# (case id, content type, body, expected status, text expected in the message)
CASES: list[tuple[str, str, bytes, int, str]] = [
    ("empty body", "image/jpeg", b"", 400, "empty"),
    ("empty json body", "application/json", b"", 400, "empty"),
    ("text bytes", "image/jpeg", b"this is not an image", 400, "not an image"),
    ("random bytes", "application/x-image", bytes(range(256)) * 8, 400, "not an image"),
    ("truncated jpeg", "image/jpeg", JPEG[: len(JPEG) // 2], 400, "could not be decoded"),
    ("truncated png", "image/png", PNG[: len(PNG) // 2], 400, "could not be decoded"),
    (
        "svg content type",
        "image/svg+xml",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        415,
        "image/svg+xml",
    ),
    (
        "svg bytes labelled png",
        "image/png",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        415,
        "SVG",
    ),
    ("pdf content type", "application/pdf", b"%PDF-1.7\n", 415, "application/pdf"),
    ("pdf bytes labelled jpeg", "image/jpeg", b"%PDF-1.7\n1 0 obj\n", 415, "PDF"),
    ("text/plain", "text/plain", b"hello", 415, "text/plain"),
    ("form", "application/x-www-form-urlencoded", b"a=b", 415, "not supported"),
    ("decompression bomb", "image/png", png_with_size(60_000, 60_000), 413, "limit"),
    ("malformed json", "application/json", b'{"image": ', 400, "not valid JSON"),
    ("json array", "application/json", b"[1, 2, 3]", 400, '"image"'),
    ("json nested too deep", "application/json", b"[" * 200_000 + b"]" * 200_000, 400, "deeply"),
    (
        "instances nested too deep",
        "application/json",
        b'{"instances": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        400,
        "deeply",
    ),
    (
        "instances one level too deep",
        "application/json",
        b'{"instances": [[[[[0]]]]]}',
        422,
        "instances",
    ),
    ("json wrong field", "application/json", b'{"picture": "abc"}', 400, '"image"'),
    ("json extra field", "application/json", b'{"image": "aGk=", "colour": 1}', 422, "colour"),
    ("json image not a string", "application/json", b'{"image": 42}', 422, "image"),
    ("json top_k zero", "application/json", b'{"image": "aGk=", "top_k": 0}', 422, "top_k"),
    ("base64 garbage", "application/json", b'{"image": "***not base64***"}', 400, "base64"),
    ("base64 of text", "application/json", b'{"image": "aGVsbG8gd29ybGQ="}', 400, "not an image"),
    ("instances flat", "application/json", b'{"instances": [1, 2, 3]}', 422, "instances"),
    ("instances empty", "application/json", b'{"instances": []}', 422, "instances"),
    (
        "instances 4 channels",
        "application/json",
        json.dumps({"instances": [[[[0, 0, 0, 0]] * 4] * 4]}).encode(),
        400,
        "H x W x 3",
    ),
    (
        "instances ragged",
        "application/json",
        json.dumps({"instances": [[[[0, 0, 0]], [[0, 0, 0], [1, 1, 1]]]]}).encode(),
        400,
        "rectangular",
    ),
    (
        "instances not numbers",
        "application/json",
        json.dumps({"instances": [[[["r", "g", "b"]]]]}).encode(),
        422,
        "number",
    ),
    ("instances NaN", "application/json", b'{"instances": [[[[NaN, 0, 0]]]]}', 400, "finite"),
    (
        "instances out of range",
        "application/json",
        b'{"instances": [[[[999, 0, 0]]]]}',
        400,
        "0..255",
    ),
]


@pytest.fixture
async def small_limit_client(make_client: MakeClient) -> Client:
    return await make_client(max_body_bytes=4096)


def assert_error_shape(body: dict[str, Any], expected_text: str) -> ErrorResponse:
    error = ErrorResponse.model_validate(body)
    assert error.error.request_id and error.error.code
    assert expected_text.lower() in error.error.message.lower(), error.error.message
    assert "Traceback" not in error.error.message
    return error


@pytest.mark.parametrize(
    ("content_type", "body", "status", "text"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_bad_input_gets_a_clear_error_and_the_server_keeps_serving(
    client: Client, content_type: str, body: bytes, status: int, text: str
) -> None:
    response = await client.post("/invocations", data=body, headers={"Content-Type": content_type})
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    assert_error_shape(await response.json(), text)
    good = await client.post("/invocations", data=JPEG, headers={"Content-Type": "image/jpeg"})
    assert good.status == 200


async def test_pixel_limit_from_settings_names_the_limit(make_client: MakeClient) -> None:
    client = await make_client(max_pixels=50_000)
    response = await client.post(
        "/invocations",
        data=make_image_bytes("PNG", (400, 300)),
        headers={"Content-Type": "image/png"},
    )
    assert response.status == 413
    error = assert_error_shape(await response.json(), "limit is 50,000 pixels")
    assert error.error.code == "image_too_large"


async def test_oversize_body_with_content_length_is_413_in_our_shape(
    small_limit_client: Client,
) -> None:
    response = await small_limit_client.post(
        "/invocations",
        data=b"\xff\xd8\xff" + b"\0" * 10_000,
        headers={"Content-Type": "image/jpeg"},
    )
    assert response.status == 413
    error = assert_error_shape(await response.json(), "4,096-byte limit")
    assert error.error.code == "payload_too_large"


async def test_oversize_chunked_body_is_413_in_our_shape(small_limit_client: Client) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"\0" * 1000

    response = await small_limit_client.post(
        "/invocations", data=chunks(), headers={"Content-Type": "image/jpeg"}
    )
    assert response.status == 413
    assert_error_shape(await response.json(), "4,096-byte limit")
    good = await small_limit_client.post(
        "/invocations",
        data=make_image_bytes("JPEG", (64, 48)),
        headers={"Content-Type": "image/jpeg"},
    )
    assert good.status == 200


@pytest.mark.parametrize(
    "accept", ["text/html", "image/png", "application/json;q=0", "application/xml, text/*"]
)
async def test_unsupported_accept_is_406(client: Client, accept: str) -> None:
    response = await client.post(
        "/invocations", data=JPEG, headers={"Content-Type": "image/jpeg", "Accept": accept}
    )
    assert response.status == 406
    assert_error_shape(await response.json(), "application/json")


@pytest.mark.parametrize(
    ("attributes", "text"),
    [
        ("top_k=0", "top_k"),
        ("top_k=abc", "top_k"),
        ("top_k=1001", "top_k"),
        ("top_k=-1", "top_k"),
        ("probabilities=maybe", "probabilities"),
        ("topk=3", "unknown attribute"),
        ("top_k", "key=value"),
        ("x" * 2000, "longer than"),
    ],
)
async def test_bad_custom_attributes_are_400(client: Client, attributes: str, text: str) -> None:
    response = await client.post(
        "/invocations",
        data=JPEG,
        headers={"Content-Type": "image/jpeg", "X-Amzn-SageMaker-Custom-Attributes": attributes},
    )
    assert response.status == 400
    error = assert_error_shape(await response.json(), text)
    assert error.error.code == "invalid_custom_attributes"


async def test_runtime_path_wraps_errors_like_sagemaker(client: Client) -> None:
    response = await client.post(
        "/endpoints/kkot/invocations", data=b"not an image", headers={"Content-Type": "image/jpeg"}
    )
    assert response.status == 424
    assert response.headers["x-amzn-ErrorType"] == "ModelError"
    body = RuntimeModelError.model_validate(await response.json())
    assert body.OriginalStatusCode == 400
    inner = ErrorResponse.model_validate_json(body.OriginalMessage)
    assert inner.error.code == "invalid_image" == body.error.code
    assert "client error (400)" in body.Message


async def test_unknown_path_and_wrong_method_use_the_error_shape(client: Client) -> None:
    missing = await client.get("/nowhere")
    assert missing.status == 404
    ErrorResponse.model_validate(await missing.json())
    wrong = await client.get("/invocations")
    assert wrong.status == 405
    ErrorResponse.model_validate(await wrong.json())


async def test_prediction_still_works_after_a_burst_of_errors(client: Client) -> None:
    for case in CASES[:8]:
        await client.post("/invocations", data=case[2], headers={"Content-Type": case[1]})
    response = await client.post("/invocations", data=JPEG, headers={"Content-Type": "image/jpeg"})
    assert Prediction.model_validate(await response.json()).top_k
