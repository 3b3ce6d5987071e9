"""`DynamoDBClassificationStore` against moto over HTTP, on a table made from the stack's
own definition (hash key `pk`, GSI `by-time` on `kind` + `created_at`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aioboto3
import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from services.was.cursors import InvalidCursor
from services.was.records import StoredClassification
from services.was.store_dynamodb import DynamoDBClassificationStore, RecordConflict
from shared.contracts.classification import ClassificationStatus, ClassificationTiming
from shared.contracts.prediction import LabelScore
from tests.aws.conftest import REGION

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
async def dynamodb(moto_url: str) -> AsyncIterator[DynamoDBClient]:
    async with aioboto3.Session().client(
        "dynamodb", region_name=REGION, endpoint_url=moto_url
    ) as client:
        yield client


@pytest.fixture
def store(dynamodb: DynamoDBClient, table_name: str) -> DynamoDBClassificationStore:
    return DynamoDBClassificationStore(dynamodb, table_name)


def record(n: int, **update: object) -> StoredClassification:
    values: dict[str, object] = {
        "id": f"rec{n:02d}",
        "status": ClassificationStatus.COMPLETED,
        "created_at": T0 + timedelta(seconds=n, microseconds=n),
        "completed_at": T0 + timedelta(seconds=n + 1),
        "content_type": "image/jpeg",
        "image_key": f"images/rec{n:02d}.jpg",
        "top_k": [LabelScore(index=1, label="bellflower", score=0.9)],
        "model_name": "flowers",
        "model_version": "v1",
        "timing": ClassificationTiming(was_ms=1.5, endpoint_ms=20.25),
    }
    values.update(update)
    return StoredClassification.model_validate(values)


async def test_round_trip_and_the_item_in_the_table(
    store: DynamoDBClassificationStore, dynamodb: DynamoDBClient, table_name: str
) -> None:
    original = record(1, filename="photo.jpg")
    await store.put(original)
    assert await store.get("rec01") == original
    assert await store.get("missing") is None
    item = (await dynamodb.get_item(TableName=table_name, Key={"pk": {"S": "rec01"}}))["Item"]
    assert item["kind"] == {"S": "classification"}
    assert item["created_at"] == {"S": "2026-11-24T12:00:01.000001Z"}
    await store.ping()


async def test_pages_of_three_over_seven_records_newest_first_without_gaps(
    store: DynamoDBClassificationStore,
) -> None:
    for n in (3, 1, 7, 5, 2, 6, 4):  # insertion order is not listing order
        await store.put(record(n))
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        items, cursor = await store.list(limit=3, cursor=cursor)
        pages += 1
        assert len(items) <= 3
        seen += [item.id for item in items]
        if cursor is None:
            break
        # A record created after paging began does not disturb the next pages.
        if pages == 1:
            await store.put(record(9))
    assert pages == 3
    assert seen == ["rec07", "rec06", "rec05", "rec04", "rec03", "rec02", "rec01"]


async def test_has_feedback_filter_fills_pages(store: DynamoDBClassificationStore) -> None:
    for n in range(1, 8):
        with_feedback = n in (1, 4, 6)
        await store.put(
            record(n, feedback_label="astilbe" if with_feedback else None, feedback_at=T0)
        )
    items, cursor = await store.list(limit=2, has_feedback=True)
    assert [i.id for i in items] == ["rec06", "rec04"]
    assert cursor is not None
    items, cursor = await store.list(limit=2, has_feedback=True, cursor=cursor)
    assert [i.id for i in items] == ["rec01"]
    assert cursor is None
    items, _ = await store.list(limit=10, has_feedback=False)
    assert [i.id for i in items] == ["rec07", "rec05", "rec03", "rec02"]


async def test_feedback_update_is_conditional(store: DynamoDBClassificationStore) -> None:
    await store.put(record(1))
    await store.put(record(2, status=ClassificationStatus.PENDING, top_k=[]))
    at = T0 + timedelta(minutes=5)

    updated = await store.set_feedback("rec01", "astilbe", at)
    assert updated is not None and updated.feedback_label == "astilbe"
    assert (await store.get("rec01")) == updated
    items, _ = await store.list(limit=5, has_feedback=True)
    assert [i.id for i in items] == ["rec01"]

    assert await store.set_feedback("nope", "astilbe", at) is None
    with pytest.raises(RecordConflict):
        await store.set_feedback("rec02", "astilbe", at)  # still pending


async def test_puts_never_overwrite_another_record_or_a_finished_one(
    store: DynamoDBClassificationStore,
) -> None:
    done = record(1)
    await store.put(done)
    # The same record moving on (feedback through put) is fine.
    await store.put(done.model_copy(update={"feedback_label": "astilbe"}))
    # A different record under the same id is refused.
    with pytest.raises(RecordConflict):
        await store.put(record(1, created_at=T0 - timedelta(days=1)))
    # A redelivered "pending" must not undo the result.
    with pytest.raises(RecordConflict):
        await store.put(done.model_copy(update={"status": ClassificationStatus.PENDING}))
    stored = await store.get("rec01")
    assert stored is not None
    assert stored.status is ClassificationStatus.COMPLETED
    assert stored.feedback_label == "astilbe"


async def test_foreign_cursors_are_invalid(store: DynamoDBClassificationStore) -> None:
    for cursor in ["not-base64!", "W10", "WzEsMl0", "e30", "WyJ4IiwiIl0"]:
        with pytest.raises(InvalidCursor):
            await store.list(limit=3, cursor=cursor)


async def test_a_correction_only_lands_on_the_version_it_was_made_against(
    moto_url: str, table_name: str
) -> None:
    async with aioboto3.Session().client(
        "dynamodb", region_name=REGION, endpoint_url=moto_url
    ) as client:
        store = DynamoDBClassificationStore(client, table_name)
        done = StoredClassification(
            id="v1",
            status=ClassificationStatus.COMPLETED,
            created_at=datetime.now(UTC),
            content_type="image/jpeg",
            image_key="images/v1.jpg",
        )
        await store.put(done)
        first = done.model_copy(update={"feedback_label": "a", "feedback_by": "x", "version": 1})
        await store.put(first)
        # A second task corrected the same version meanwhile: refused.
        rival = done.model_copy(update={"feedback_label": "b", "feedback_by": "y", "version": 1})
        with pytest.raises(RecordConflict):
            await store.put(rival)
        await store.put(first.model_copy(update={"feedback_label": "c", "version": 2}))
        stored = await store.get("v1")
        assert stored is not None and stored.feedback_label == "c" and stored.version == 2
