"""Blob storage behind one small async interface.

    blobs.py   `BlobStore` (the interface), `Blob`, key validation, the errors
    local.py   `LocalBlobStore`: a folder on disk, atomic writes (the embedded default)

The S3 implementation joins in a later issue; it needs nothing more than these four calls.
"""

from shared.storage.blobs import Blob, BlobNotFound, BlobStore, InvalidBlobKey, validate_key
from shared.storage.local import LocalBlobStore

__all__ = [
    "Blob",
    "BlobNotFound",
    "BlobStore",
    "InvalidBlobKey",
    "LocalBlobStore",
    "validate_key",
]
