"""`LocalBlobStore`: blobs as files under one folder.

Layout: `<root>/data/<key>` holds the bytes and `<root>/meta/<key>.json` the content
type, unless the key's extension already names it (no sidecar then). Writes go to a
temporary file in the same folder and are renamed into place (`os.replace` is atomic
on POSIX), the data before the metadata, so a reader never sees a half-written blob.
A stored blob survives a crash of the process (the kernel holds the write); with
`power_safe` it is also fsynced before the rename, to survive a power cut. File work
runs in a thread so the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
from pathlib import Path

from shared.files import atomic_write
from shared.storage.blobs import Blob, BlobNotFound, InvalidBlobKey, validate_key

__all__ = ["LocalBlobStore"]

_DEFAULT_CONTENT_TYPE = "application/octet-stream"


def _implied_type(key: str) -> str | None:
    """The content type the key's extension names (`images/x.jpg` -> image/jpeg)."""
    return mimetypes.guess_type(key, strict=True)[0]


def _inside(path: str, root: str) -> bool:
    return os.path.normpath(path).startswith(root + os.sep)


class LocalBlobStore:
    """A folder-backed `BlobStore`."""

    def __init__(self, root: Path, *, power_safe: bool = False) -> None:
        self.root = root.resolve()
        self.power_safe = power_safe
        self._data = os.path.join(self.root, "data")
        self._meta = os.path.join(self.root, "meta")

    def _paths(self, key: str) -> tuple[Path, Path]:
        validate_key(key)
        data = os.path.join(self._data, key)
        meta = os.path.join(self._meta, f"{key}.json")
        # Defence in depth: the key alphabet already forbids escaping the root. Checked
        # lexically, on strings: this runs on the event loop for every photo, where
        # resolve() would cost a system call per path component and pathlib's own
        # parsing as much again as the check.
        if not (_inside(data, self._data) and _inside(meta, self._meta)):
            raise InvalidBlobKey(f"invalid blob key {key!r:.80}")
        return Path(data), Path(meta)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, atomically."""
        data_path, meta_path = self._paths(key)
        meta = json.dumps({"content_type": content_type}).encode()
        implied = content_type == _implied_type(key)

        def write() -> None:
            atomic_write(data_path, data, durable=self.power_safe)
            if implied:
                # The key's extension says the type (a photo's does): no sidecar, whose
                # creation costs as much CPU as the photo's own write; a stale one from
                # an earlier put under this key must not contradict it.
                meta_path.unlink(missing_ok=True)
                return
            # The sidecar is not fsynced: losing it in a crash only loses the content
            # type (read back as the extension's, or octet-stream).
            atomic_write(meta_path, meta, durable=False)

        await asyncio.to_thread(write)

    async def get(self, key: str) -> Blob:
        """The blob under `key`; `BlobNotFound` when there is none."""
        data_path, meta_path = self._paths(key)

        def read() -> Blob:
            try:
                data = data_path.read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise BlobNotFound(key) from None
            try:
                content_type = str(json.loads(meta_path.read_bytes())["content_type"])
            except (OSError, ValueError, KeyError):
                content_type = _implied_type(key) or _DEFAULT_CONTENT_TYPE
            return Blob(data=data, content_type=content_type)

        return await asyncio.to_thread(read)

    async def exists(self, key: str) -> bool:
        """Whether a blob is stored under `key`."""
        data_path, _ = self._paths(key)
        return await asyncio.to_thread(data_path.is_file)

    async def delete(self, key: str) -> bool:
        """Remove the blob under `key`; whether there was one."""
        data_path, meta_path = self._paths(key)

        def remove() -> bool:
            existed = data_path.is_file()
            data_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return existed

        return await asyncio.to_thread(remove)
