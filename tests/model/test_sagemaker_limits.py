"""The local Runtime path behaves as a SageMaker endpoint does: it refuses a payload over
6 MB (the container path, which SageMaker itself shields, still takes it), answers a
describe request through `invoke_endpoint`, and turns an invocation over the time limit
into SageMaker's timed-out ModelError."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import boto3
import pytest
from aiohttp.test_utils import TestClient
from botocore.config import Config
from botocore.exceptions import ClientError

from shared.contracts.model import ModelDescription
from shared.contracts.prediction import SAGEMAKER_MAX_PAYLOAD_BYTES, Prediction
from tests.model.conftest import MakeClient
from tests.model.test_runtime_api import CREDENTIALS, endpoint_url
from tests.sagemaker_photos import oversized_photo

Client = TestClient[Any, Any]
NO_RETRIES = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60)


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    return oversized_photo()


def _invoke(url: str, body: bytes, content_type: str) -> Any:
    runtime = boto3.client("sagemaker-runtime", endpoint_url=url, config=NO_RETRIES, **CREDENTIALS)
    return runtime.invoke_endpoint(EndpointName="kkot-flowers", Body=body, ContentType=content_type)


async def test_runtime_path_refuses_a_7_mb_photo_as_sagemaker_does(
    client: Client, big_photo: bytes
) -> None:
    assert len(big_photo) > SAGEMAKER_MAX_PAYLOAD_BYTES
    with pytest.raises(ClientError) as raised:
        await asyncio.to_thread(_invoke, endpoint_url(client), big_photo, "image/jpeg")
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"]["Code"] == "ValidationError"  # not a ModelError: never reached it


async def test_container_path_still_takes_the_7_mb_photo(client: Client, big_photo: bytes) -> None:
    response = await client.post(
        "/invocations", data=io.BytesIO(big_photo), headers={"Content-Type": "image/jpeg"}
    )
    assert response.status == 200, await response.text()
    Prediction.model_validate(await response.json())


async def test_describe_request_through_invoke_endpoint_answers_the_model_without_paths(
    make_client: MakeClient,
) -> None:
    client = await make_client(admin_enabled=False)
    answer = await asyncio.to_thread(
        _invoke, endpoint_url(client), b'{"describe": true}', "application/json"
    )
    raw = answer["Body"].read()
    description = ModelDescription.model_validate_json(raw)
    assert description.metadata.name == "efficientnet-lite0-imagenet"
    assert len(description.labels) == 1000
    assert description.catalog is not None and description.catalog.get(description.labels[0])
    assert b"model_dir" not in raw  # nothing of the server's disk leaks


async def test_an_invocation_over_the_time_limit_is_sagemakers_timed_out_model_error(
    make_client: MakeClient,
) -> None:
    # A limit no inference can meet stands in for a model slower than 60 s.
    client = await make_client(runtime_timeout_s=0.000001)
    with pytest.raises(ClientError) as raised:
        await asyncio.to_thread(
            _invoke, endpoint_url(client), b'{"describe": true}', "application/json"
        )
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert "timed out" in error["Error"]["Message"]
