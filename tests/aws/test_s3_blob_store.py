"""`S3BlobStore` against moto over HTTP with the real aioboto3 S3 client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aioboto3
import pytest
from types_aiobotocore_s3 import S3Client

from shared.storage import BlobNotFound, InvalidBlobKey, S3BlobStore
from tests.aws.conftest import REGION


@pytest.fixture
async def s3(moto_url: str) -> AsyncIterator[S3Client]:
    async with aioboto3.Session().client("s3", region_name=REGION, endpoint_url=moto_url) as client:
        yield client


async def test_round_trip_keeps_bytes_content_type_and_encryption(
    bucket: str, s3: S3Client
) -> None:
    store = S3BlobStore(s3, bucket, sse="aws:kms")
    data = bytes(range(256)) * 40
    await store.put("images/2026/11/24/abc.jpg", data, "image/jpeg")

    blob = await store.get("images/2026/11/24/abc.jpg")
    assert blob.data == data
    assert blob.content_type == "image/jpeg"
    assert await store.exists("images/2026/11/24/abc.jpg")
    # The object itself, as S3 holds it: the key unchanged, SSE as asked.
    head = await s3.head_object(Bucket=bucket, Key="images/2026/11/24/abc.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert head["ServerSideEncryption"] == "aws:kms"

    await store.put("images/2026/11/24/abc.jpg", b"second", "image/png")
    assert (await store.get("images/2026/11/24/abc.jpg")).data == b"second"

    assert await store.delete("images/2026/11/24/abc.jpg") is True
    assert not await store.exists("images/2026/11/24/abc.jpg")
    assert await store.delete("images/2026/11/24/abc.jpg") is False


async def test_aes256_and_a_prefix(bucket: str, s3: S3Client) -> None:
    store = S3BlobStore(s3, bucket, sse="AES256", prefix="stage-a")
    await store.put("x/y.bin", b"payload", "application/octet-stream")
    head = await s3.head_object(Bucket=bucket, Key="stage-a/x/y.bin")
    assert head["ServerSideEncryption"] == "AES256"
    assert (await store.get("x/y.bin")).data == b"payload"


async def test_missing_key_is_blob_not_found(bucket: str, s3: S3Client) -> None:
    store = S3BlobStore(s3, bucket)
    with pytest.raises(BlobNotFound):
        await store.get("images/none.jpg")
    assert await store.exists("images/none.jpg") is False


async def test_unsafe_keys_are_rejected_before_any_request(bucket: str, s3: S3Client) -> None:
    store = S3BlobStore(s3, bucket)
    for key in ["../etc/passwd", "/abs/key", "a/../b", "a//b", "a\\b", "", ".hidden", "a/./b"]:
        with pytest.raises(InvalidBlobKey):
            await store.put(key, b"x", "text/plain")
        with pytest.raises(InvalidBlobKey):
            await store.get(key)
        with pytest.raises(InvalidBlobKey):
            await store.delete(key)
    listed = await s3.list_objects_v2(Bucket=bucket)
    assert listed.get("KeyCount", 0) == 0
