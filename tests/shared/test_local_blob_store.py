"""The folder blob store: round trip with content type, atomic writes, and keys that
cannot leave the store's root."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shared.storage import BlobNotFound, BlobStore, InvalidBlobKey, LocalBlobStore


async def test_put_get_exists_delete_round_trip(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    assert isinstance(store, BlobStore)
    await store.put("images/2026/a.jpg", b"\xff\xd8hello", "image/jpeg")
    assert await store.exists("images/2026/a.jpg")
    blob = await store.get("images/2026/a.jpg")
    assert blob.data == b"\xff\xd8hello"
    assert blob.content_type == "image/jpeg"
    await store.put("images/2026/a.jpg", b"png", "image/png")
    assert (await store.get("images/2026/a.jpg")).content_type == "image/png"
    assert await store.delete("images/2026/a.jpg") is True
    assert await store.delete("images/2026/a.jpg") is False
    assert not await store.exists("images/2026/a.jpg")
    with pytest.raises(BlobNotFound):
        await store.get("images/2026/a.jpg")
    # No temporary files are left behind by the atomic writes.
    leftovers = await asyncio.to_thread(lambda: list(tmp_path.rglob(".tmp-*")))
    assert leftovers == []


@pytest.mark.parametrize(
    "key",
    [
        "../escape",
        "a/../../escape",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "..",
        "a\\..\\b",
        "",
        "a/",
        "%2e%2e/x",
        "x" * 600,
        "ok/\x00nul",
    ],
)
async def test_keys_that_could_escape_the_root_are_refused(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path / "store")
    with pytest.raises(InvalidBlobKey):
        await store.put(key, b"x", "text/plain")
    with pytest.raises(InvalidBlobKey):
        await store.get(key)
    assert not (tmp_path / "escape").exists()


async def test_a_type_the_extension_names_needs_no_sidecar(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sidecar = tmp_path / "meta" / "images" / "b.jpg.json"
    await store.put("images/b.jpg", b"\xff\xd8photo", "image/jpeg")
    assert not await asyncio.to_thread(sidecar.exists)
    assert (await store.get("images/b.jpg")).content_type == "image/jpeg"
    # A type the extension does not name is kept beside the blob...
    await store.put("images/b.jpg", b"png", "image/png")
    assert await asyncio.to_thread(sidecar.exists)
    assert (await store.get("images/b.jpg")).content_type == "image/png"
    # ...and dropped when a later put agrees with the extension again.
    await store.put("images/b.jpg", b"\xff\xd8again", "image/jpeg")
    assert not await asyncio.to_thread(sidecar.exists)
    assert (await store.get("images/b.jpg")).content_type == "image/jpeg"
    # No extension, no sidecar: octet-stream, as before.
    await store.put("raw/c", b"x", "application/octet-stream")
    assert (await store.get("raw/c")).content_type == "application/octet-stream"
