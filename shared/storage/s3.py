"""`S3BlobStore`: blobs as objects in one S3 bucket (the AWS backend of `BlobStore`).

The aioboto3 client is opened once by the owner (a `cleanup_ctx`) and passed in; this
class never opens or closes it. Keys are validated with the same `validate_key` as the
folder store, so a key accepted here is accepted locally and vice versa. The content
type travels as the object's `ContentType`. Every put asks for server-side encryption
explicitly (`aws:kms`, optionally with the stage's key, or `AES256`), so an object is
encrypted even if the bucket's default encryption were ever removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from shared.storage.blobs import Blob, BlobNotFound, validate_key

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["S3BlobStore", "ServerSideEncryption"]

ServerSideEncryption = Literal["aws:kms", "AES256"]
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def _is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING


class S3BlobStore:
    """A `BlobStore` over one bucket, optionally under a key prefix."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        sse: ServerSideEncryption = "aws:kms",
        kms_key_id: str | None = None,
        prefix: str = "",
    ) -> None:
        if prefix:
            validate_key(prefix.rstrip("/"))
        self._s3 = client
        self.bucket = bucket
        self.sse = sse
        self.kms_key_id = kms_key_id
        self._prefix = prefix.rstrip("/") + "/" if prefix else ""

    def _key(self, key: str) -> str:
        return self._prefix + validate_key(key)

    def _encryption(self) -> dict[str, Any]:
        args: dict[str, Any] = {"ServerSideEncryption": self.sse}
        if self.sse == "aws:kms" and self.kms_key_id:
            # Without a key id S3 would use the account's aws/s3 key, not the stage's key.
            args["SSEKMSKeyId"] = self.kms_key_id
            args["BucketKeyEnabled"] = True
        return args

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key` (a single PUT is atomic in S3)."""
        await self._s3.put_object(
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ContentType=content_type,
            **self._encryption(),
        )

    async def get(self, key: str) -> Blob:
        """The blob under `key`; `BlobNotFound` when there is none."""
        object_key = self._key(key)
        try:
            response = await self._s3.get_object(Bucket=self.bucket, Key=object_key)
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobNotFound(key) from None
            raise
        async with response["Body"] as stream:
            data = await stream.read()
        return Blob(data=data, content_type=response.get("ContentType") or _DEFAULT_CONTENT_TYPE)

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        try:
            await self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    async def delete(self, key: str) -> bool:
        """Remove the object under `key`; whether there was one. (S3's DELETE answers the
        same either way, hence the HEAD first; a concurrent delete makes it say True.)"""
        existed = await self.exists(key)
        if existed:
            await self._s3.delete_object(Bucket=self.bucket, Key=self._key(key))
        return existed
