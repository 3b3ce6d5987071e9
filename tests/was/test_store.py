"""The SQLite classification store: round trip, keyset pagination stable under inserts,
the feedback filter and cursor validation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.was import keys
from services.was.cursors import InvalidCursor
from services.was.records import StoredClassification
from services.was.store import SqliteClassificationStore
from shared.contracts.classification import ClassificationStatus, ClassificationTiming
from shared.contracts.prediction import LabelScore
from shared.storage import LocalBlobStore
from tests.was.conftest import WasClientFactory

_T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _record(offset_s: float, **fields: object) -> StoredClassification:
    values: dict[str, object] = {
        "id": uuid.uuid4().hex,
        "status": ClassificationStatus.PENDING,
        "created_at": _T0 + timedelta(seconds=offset_s),
        "content_type": "image/jpeg",
        "image_key": "images/x.jpg",
    }
    values.update(fields)
    return StoredClassification.model_validate(values)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteClassificationStore]:
    store = await SqliteClassificationStore.open(tmp_path / "db" / "c.sqlite3")
    yield store
    await store.close()


async def test_round_trip_keeps_every_field(store: SqliteClassificationStore) -> None:
    record = _record(
        0,
        status=ClassificationStatus.COMPLETED,
        filename="꽃 사진.jpg",
        top_k=[LabelScore(index=1, label="bellflower", score=0.9)],
        model_name="m",
        model_version="v1",
        timing=ClassificationTiming(was_ms=1.5, endpoint_ms=20.0, model_ms=12.0),
        feedback_label="astilbe",
        feedback_at=_T0,
    )
    await store.put(record)
    assert await store.get(record.id) == record
    assert await store.get("missing") is None
    updated = record.model_copy(update={"feedback_label": "bellflower"})
    await store.put(updated)
    assert await store.get(record.id) == updated


async def test_wal_mode_is_on(tmp_path: Path) -> None:
    store = await SqliteClassificationStore.open(tmp_path / "c.sqlite3")
    async with store._db.execute("PRAGMA journal_mode") as rows:
        (mode,) = await rows.fetchone()  # type: ignore[misc]
    await store.close()
    assert mode == "wal"


async def test_pages_of_three_over_seven_records_have_no_dupes_or_gaps(
    store: SqliteClassificationStore,
) -> None:
    records = [_record(i) for i in range(7)]
    # Two records share a timestamp: the id breaks the tie.
    records.append(_record(3))
    for record in records:
        await store.put(record)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        items, cursor = await store.list(limit=3, cursor=cursor)
        pages += 1
        seen += [item.id for item in items]
        if pages == 1:
            # A record inserted mid-paging sorts above every cursor: it cannot shift pages.
            await store.put(_record(100))
        if cursor is None or pages > 10:
            break
    expected = [r.id for r in sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)]
    assert seen == expected
    assert pages == 3


async def test_has_feedback_filter(store: SqliteClassificationStore) -> None:
    plain = [_record(i) for i in range(3)]
    corrected = [_record(10 + i, feedback_label="astilbe") for i in range(2)]
    for record in plain + corrected:
        await store.put(record)
    with_feedback, _ = await store.list(limit=10, has_feedback=True)
    assert {r.id for r in with_feedback} == {r.id for r in corrected}
    without, _ = await store.list(limit=10, has_feedback=False)
    assert {r.id for r in without} == {r.id for r in plain}


@pytest.mark.parametrize("cursor", ["not-base64!!", "bm90IGpzb24", "WzEsMl0", "W10"])
async def test_foreign_cursors_are_refused(store: SqliteClassificationStore, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        await store.list(limit=3, cursor=cursor)


async def test_a_put_is_committed_when_it_returns(tmp_path: Path) -> None:
    # Another connection (another WAS process, or this one after a crash) sees each
    # write at once: no transaction is left open between puts.
    path = tmp_path / "c.sqlite3"
    writer = await SqliteClassificationStore.open(path)
    reader = await SqliteClassificationStore.open(path)
    try:
        record = _record(0)
        await writer.put(record)
        assert await reader.get(record.id) == record
        assert await writer.delete(record.id) is True
        assert await reader.get(record.id) is None
    finally:
        await writer.close()
        await reader.close()


@pytest.mark.parametrize(("durability", "synchronous"), [("process", 1), ("power", 2)])
async def test_one_durability_setting_governs_records_and_photos(
    make_was: WasClientFactory, durability: str, synchronous: int
) -> None:
    # "process": SQLite's WAL at NORMAL (1) and photos without fsync, which both survive
    # a kill -9 (tests/security/test_chaos.py); "power": FULL (2) and an fsync per photo.
    client = await make_was(local_durability=durability)
    app = client.server.app
    store = app[keys.STORE]
    assert isinstance(store, SqliteClassificationStore)
    async with store._db.execute("PRAGMA synchronous") as cursor:
        assert await cursor.fetchone() == (synchronous,)
    blobs = app[keys.BLOBS]
    assert isinstance(blobs, LocalBlobStore)
    assert blobs.power_safe is (durability == "power")
