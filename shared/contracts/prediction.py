"""What the model endpoint (`/invocations`) accepts and answers."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.errors import ErrorBody

JSON_CONTENT_TYPE = "application/json"

# Amazon SageMaker real-time endpoints refuse request payloads over 6 MB and
# invocations that take over 60 s. The local Runtime path enforces both, and WAS never
# sends more (it re-encodes a larger photo at the model's input scale).
SAGEMAKER_MAX_PAYLOAD_BYTES: Final = 6 * 1024 * 1024
SAGEMAKER_INVOCATION_TIMEOUT_S: Final = 60.0


class ImageRequest(Contract):
    """`application/json` body carrying one base64-encoded image."""

    image: str = Field(min_length=1, description="base64 (standard or URL-safe) image bytes")
    top_k: int | None = Field(None, ge=1, le=1000)


class DescribeRequest(Contract):
    """`application/json` body `{"describe": true}`: answer the served model's
    `ModelDescription` instead of a prediction. It travels through `invoke_endpoint`
    like any invocation, so it works on a SageMaker endpoint, which has no other way
    in to the container."""

    describe: Literal[True]


class InstancesRequest(Contract):
    """The tutorial's TensorFlow-Serving style body: `{"instances": [H x W x 3 floats]}`."""

    instances: list[list[list[list[float]]]] = Field(min_length=1, max_length=64)


class LabelScore(Contract):
    index: int = Field(ge=0)
    label: str
    score: float = Field(ge=0, le=1)


class PredictionTiming(Contract):
    decode_ms: float = Field(ge=0, description="decode + preprocessing of this image")
    queue_ms: float = Field(ge=0, description="wait for the dynamic batch to run")
    inference_ms: float = Field(ge=0, description="ONNX Runtime call for the whole batch")
    total_ms: float = Field(ge=0, description="server time for this request")
    batch_size: int = Field(ge=1, description="images in the ONNX Runtime call")


class Prediction(Contract):
    model_name: str
    model_version: str
    top_k: list[LabelScore]
    probabilities: list[float] | None = None
    timing: PredictionTiming


class InstancesResponse(Contract):
    """Answer to an `InstancesRequest`: one prediction per instance, in order."""

    predictions: list[Prediction]


class RuntimeModelError(Contract):
    """An error on the SageMaker Runtime path (`/endpoints/{name}/invocations`).

    Amazon SageMaker answers a container's error with HTTP 424 `ModelError` carrying the
    container's status and body; the local server does the same so a botocore client
    sees identical errors locally and on AWS. `error` keeps kkot's one error shape.
    """

    error: ErrorBody
    ErrorCode: str = "CLIENT_ERROR_FROM_MODEL"
    Message: str
    OriginalStatusCode: int
    OriginalMessage: str
    LogStreamArn: str = ""
