"""Blob storage behind one small async interface.

    blobs.py   `BlobStore` (the interface), `Blob`, key validation, the errors
    local.py   `LocalBlobStore`: a folder on disk, atomic writes (the embedded default)
    s3.py      `S3BlobStore`: objects in one S3 bucket (the AWS backend)

Both accept exactly the same keys (`validate_key`).
"""

from shared.storage.blobs import Blob, BlobNotFound, BlobStore, InvalidBlobKey, validate_key
from shared.storage.local import LocalBlobStore
from shared.storage.s3 import S3BlobStore

__all__ = [
    "Blob",
    "BlobNotFound",
    "BlobStore",
    "InvalidBlobKey",
    "LocalBlobStore",
    "S3BlobStore",
    "validate_key",
]
