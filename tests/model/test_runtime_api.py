"""The SageMaker Runtime API, driven by the unchanged aioboto3 and boto3 clients."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aioboto3
import boto3
import pytest
from aiohttp.test_utils import TestClient
from botocore.config import Config
from botocore.exceptions import ClientError

from shared.contracts.errors import ErrorResponse
from shared.contracts.prediction import Prediction
from tests.model.conftest import flower_photos
from tests.model.images import make_image_bytes

Client = TestClient[Any, Any]
CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "region_name": "us-east-1",
}
NO_RETRIES = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)


def endpoint_url(client: Client) -> str:
    return str(client.make_url("")).rstrip("/")


async def test_aioboto3_classifies_a_flower_photo(client: Client, flowers_dir: Path) -> None:
    photo = flower_photos(flowers_dir, "black_eyed_susan", 1)[0]
    session = aioboto3.Session(**CREDENTIALS)
    async with session.client(
        "sagemaker-runtime", endpoint_url=endpoint_url(client), config=NO_RETRIES
    ) as runtime:
        response = await runtime.invoke_endpoint(
            EndpointName="kkot-flowers",
            ContentType="image/jpeg",
            Accept="application/json",
            CustomAttributes="top_k=3",
            Body=photo.read_bytes(),
        )
        body = await response["Body"].read()
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    prediction = Prediction.model_validate_json(body)
    assert prediction.top_k[0].label == "daisy"
    assert prediction.top_k[0].score > 0.3
    assert len(prediction.top_k) == 3


async def test_aioboto3_sees_errors_as_sagemaker_model_error(client: Client) -> None:
    session = aioboto3.Session(**CREDENTIALS)
    async with session.client(
        "sagemaker-runtime", endpoint_url=endpoint_url(client), config=NO_RETRIES
    ) as runtime:
        with pytest.raises(ClientError) as info:
            await runtime.invoke_endpoint(
                EndpointName="kkot", ContentType="image/jpeg", Body=b"definitely not a jpeg"
            )
        assert isinstance(info.value, runtime.exceptions.ModelError)
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert ErrorResponse.model_validate_json(error["OriginalMessage"]).error.code == "invalid_image"


def _invoke_with_boto3(url: str, body: bytes) -> tuple[dict[str, Any], bytes]:
    runtime = boto3.client("sagemaker-runtime", endpoint_url=url, config=NO_RETRIES, **CREDENTIALS)
    response = runtime.invoke_endpoint(
        EndpointName="kkot",
        ContentType="image/png",
        Body=body,
        CustomAttributes="probabilities=true",
    )
    return dict(response), response["Body"].read()


async def test_plain_boto3_in_a_thread(client: Client) -> None:
    loop = asyncio.get_running_loop()
    response, body = await loop.run_in_executor(
        None, _invoke_with_boto3, endpoint_url(client), make_image_bytes("PNG")
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    prediction = Prediction.model_validate_json(body)
    assert prediction.probabilities is not None and len(prediction.probabilities) == 1000
