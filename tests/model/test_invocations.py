"""`POST /invocations`: content types, JSON bodies, custom attributes, Accept."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestClient

from shared.contracts.prediction import InstancesResponse, Prediction
from tests.model.conftest import flower_photos
from tests.model.images import encode, make_image_bytes, structured_image

Client = TestClient[Any, Any]


async def test_flower_photo_is_classified_as_daisy(client: Client, flowers_dir: Path) -> None:
    photo = flower_photos(flowers_dir, "black_eyed_susan", 1)[0]
    response = await client.post(
        "/invocations", data=photo.read_bytes(), headers={"Content-Type": "image/jpeg"}
    )
    assert response.status == 200
    assert response.headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    prediction = Prediction.model_validate(await response.json())
    assert prediction.top_k[0].label == "daisy"
    assert prediction.top_k[0].index == 985
    assert prediction.top_k[0].score > 0.3
    assert prediction.model_name == "efficientnet-lite0-imagenet"
    assert prediction.model_version == "imagenet-1"
    assert len(prediction.top_k) == 5
    scores = [entry.score for entry in prediction.top_k]
    assert scores == sorted(scores, reverse=True)
    assert prediction.probabilities is None
    timing = prediction.timing
    assert timing.batch_size == 1
    assert timing.total_ms >= timing.decode_ms and timing.total_ms >= timing.inference_ms


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("WEBP", "image/webp"),
        ("JPEG", "application/x-image"),
        ("PNG", "application/x-image"),
        ("GIF", "image/gif"),
        ("PNG", "image/jpeg"),  # a wrong label: the bytes decide
        ("JPEG", "application/octet-stream"),
    ],
)
async def test_image_content_types(client: Client, fmt: str, content_type: str) -> None:
    response = await client.post(
        "/invocations", data=make_image_bytes(fmt), headers={"Content-Type": content_type}
    )
    assert response.status == 200, await response.text()
    assert len(Prediction.model_validate(await response.json()).top_k) == 5


async def test_same_image_as_bytes_and_base64_json_gives_the_same_answer(client: Client) -> None:
    data = encode(structured_image((300, 200)), "PNG")
    raw = await client.post("/invocations", data=data, headers={"Content-Type": "image/png"})
    as_json = await client.post(
        "/invocations", json={"image": base64.b64encode(data).decode(), "top_k": 3}
    )
    urlsafe = await client.post(
        "/invocations", json={"image": base64.urlsafe_b64encode(data).decode().rstrip("=")}
    )
    first = Prediction.model_validate(await raw.json())
    second = Prediction.model_validate(await as_json.json())
    third = Prediction.model_validate(await urlsafe.json())
    assert len(second.top_k) == 3
    assert [e.index for e in second.top_k] == [e.index for e in first.top_k[:3]]
    assert second.top_k[0].score == pytest.approx(first.top_k[0].score, abs=1e-5)
    assert third.top_k[0].index == first.top_k[0].index


async def test_custom_attributes_set_top_k_and_probabilities(client: Client) -> None:
    response = await client.post(
        "/invocations",
        data=make_image_bytes("JPEG"),
        headers={
            "Content-Type": "image/jpeg",
            "X-Amzn-SageMaker-Custom-Attributes": "top_k=3, probabilities=true",
        },
    )
    assert response.status == 200
    prediction = Prediction.model_validate(await response.json())
    assert len(prediction.top_k) == 3
    assert prediction.probabilities is not None and len(prediction.probabilities) == 1000
    assert sum(prediction.probabilities) == pytest.approx(1.0, abs=1e-3)
    best = int(np.argmax(prediction.probabilities))
    assert prediction.top_k[0].index == best


async def test_json_top_k_beats_the_header(client: Client) -> None:
    response = await client.post(
        "/invocations",
        json={"image": base64.b64encode(make_image_bytes("PNG")).decode(), "top_k": 2},
        headers={"X-Amzn-SageMaker-Custom-Attributes": "top_k=7"},
    )
    assert len(Prediction.model_validate(await response.json()).top_k) == 2


@pytest.mark.parametrize(
    "accept",
    ["application/json", "*/*", "application/*", "text/html, application/json;q=0.5", ""],
)
async def test_accept_allowing_json_is_served(client: Client, accept: str) -> None:
    response = await client.post(
        "/invocations",
        data=make_image_bytes("JPEG"),
        headers={"Content-Type": "image/jpeg", "Accept": accept},
    )
    assert response.status == 200
    assert response.content_type == "application/json"


async def test_instances_format_is_answered_per_instance(client: Client) -> None:
    pixels = np.asarray(structured_image((48, 40)), dtype=np.float64)
    unit = (pixels / 255.0).round(4).tolist()
    response = await client.post(
        "/invocations",
        json={"instances": [pixels.tolist(), unit]},
        headers={"X-Amzn-SageMaker-Custom-Attributes": "top_k=2"},
    )
    assert response.status == 200, await response.text()
    answer = InstancesResponse.model_validate(await response.json())
    assert len(answer.predictions) == 2
    first, second = answer.predictions
    assert len(first.top_k) == 2
    # Same picture in 0..255 and 0..1 form: same answer, computed in one batch.
    assert first.top_k[0].index == second.top_k[0].index
    assert first.timing.batch_size == 2


async def test_instances_match_the_same_image_sent_as_png(client: Client) -> None:
    image = structured_image((60, 50))
    as_png = await client.post(
        "/invocations", data=encode(image, "PNG"), headers={"Content-Type": "image/png"}
    )
    as_array = await client.post(
        "/invocations", json={"instances": [np.asarray(image).astype(float).tolist()]}
    )
    png_answer = Prediction.model_validate(await as_png.json())
    array_answer = InstancesResponse.model_validate(await as_array.json()).predictions[0]
    assert array_answer.top_k[0].index == png_answer.top_k[0].index
    assert array_answer.top_k[0].score == pytest.approx(png_answer.top_k[0].score, abs=1e-5)


async def test_endpoint_path_serves_like_invocations(client: Client) -> None:
    response = await client.post(
        "/endpoints/kkot-flowers/invocations",
        data=make_image_bytes("JPEG"),
        headers={
            "Content-Type": "image/jpeg",
            "Authorization": (
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sagemaker/aws4_request, "
                "SignedHeaders=host, Signature=abc"
            ),
            "X-Amz-Date": "20260101T000000Z",
        },
    )
    assert response.status == 200
    assert Prediction.model_validate(await response.json()).top_k
