"""The `BlobStore` interface: bytes plus their content type, by key.

Keys look like S3 keys restricted to a safe alphabet: `/`-separated segments of
letters, digits, `.`, `_` and `-`, each starting with a letter or digit. That rules out
`..`, absolute paths, backslashes and empty segments, so no key can leave a folder
store's root, and every key is also a valid S3 key.

Errors:

    BlobError
    ├── InvalidBlobKey (also a ValueError)
    └── BlobNotFound (also a KeyError)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

__all__ = ["Blob", "BlobError", "BlobNotFound", "BlobStore", "InvalidBlobKey", "validate_key"]

MAX_KEY_LENGTH: Final = 512
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class BlobError(Exception):
    """Base class of blob store errors."""


class InvalidBlobKey(BlobError, ValueError):
    """The key is not in the safe alphabet (or tries to escape the store)."""


class BlobNotFound(BlobError, KeyError):
    """No blob under that key."""


def validate_key(key: str) -> str:
    """Return `key` when it is safe, else raise `InvalidBlobKey`."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise InvalidBlobKey(f"invalid blob key {key!r:.80}")
    return key


@dataclass(frozen=True)
class Blob:
    """Stored bytes and the content type they were stored with."""

    data: bytes
    content_type: str


@runtime_checkable
class BlobStore(Protocol):
    """Put, get, test and delete blobs by key."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key` (replacing any blob there), atomically."""

    async def get(self, key: str) -> Blob:
        """The blob under `key`; `BlobNotFound` when there is none."""

    async def exists(self, key: str) -> bool:
        """Whether a blob is stored under `key`."""

    async def delete(self, key: str) -> bool:
        """Remove the blob under `key`; whether there was one."""
