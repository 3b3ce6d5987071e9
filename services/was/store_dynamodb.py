"""`DynamoDBClassificationStore`: classification records in the stage's DynamoDB table.

The table is the one `cfn/stacks/data.py` creates: hash key `pk` (the record id), and
the GSI `by-time` keyed by `kind` (the same value on every record, so the whole table
is one partition of the index) and `created_at` (a fixed-width UTC ISO string with
microseconds, so string order is time order). Listing is a newest-first `Query` of that
index; the cursor is an opaque base64 of the last returned item's index key, which is
exactly the `ExclusiveStartKey` of the next page, so paging is keyset-stable like the
SQLite store's. The `has_feedback` filter is a `FilterExpression`, which DynamoDB
applies *after* `Limit`, so a page is filled by querying on until it is full.

Writes are conditional: a put never replaces a *different* record that happens to
share the id (its `created_at` must match), and a pending record never overwrites a
finished one (a redelivered request cannot undo a result). Feedback is an `UpdateItem`
on an existing, finished record.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from services.was.cursors import InvalidCursor, decode_cursor, encode_cursor
from services.was.records import StoredClassification
from shared.contracts.classification import ClassificationStatus
from shared.errors import Conflict

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["INDEX_NAME", "KIND", "DynamoDBClassificationStore", "RecordConflict"]

INDEX_NAME = "by-time"
KIND = "classification"
_PENDING = ClassificationStatus.PENDING.value


class RecordConflict(Conflict):
    """The write would replace a different record, or a finished one with a pending one
    (a 409 if it ever reaches a client)."""

    code = "record_conflict"


def created_key(moment: datetime) -> str:
    """`created_at` as the index sort key: UTC, always with microseconds."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _start_key(cursor: str) -> dict[str, Any]:
    """The `ExclusiveStartKey` a cursor names; `InvalidCursor` for anything else."""
    created_at, record_id = decode_cursor(cursor, str)
    if not 0 < len(created_at) <= 40:
        raise InvalidCursor("invalid cursor")
    return {"pk": {"S": record_id}, "kind": {"S": KIND}, "created_at": {"S": created_at}}


def _item(record: StoredClassification) -> dict[str, Any]:
    return {
        "pk": {"S": record.id},
        "kind": {"S": KIND},
        "created_at": {"S": created_key(record.created_at)},
        "status": {"S": record.status.value},
        "has_feedback": {"BOOL": record.feedback_label is not None},
        "version": {"N": str(record.version)},
        "body": {"S": record.model_dump_json()},
    }


def _record(item: dict[str, Any]) -> StoredClassification:
    return StoredClassification.model_validate_json(item["body"]["S"])


def _conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoDBClassificationStore:
    """A `ClassificationStore` over one table; the owner opens and closes the client."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._db = client
        self.table_name = table_name

    async def put(self, record: StoredClassification) -> None:
        """Insert `record` or replace the same record; `RecordConflict` otherwise."""
        condition: dict[str, Any] = {
            "ConditionExpression": "attribute_not_exists(pk) OR created_at = :created",
            "ExpressionAttributeValues": {":created": {"S": created_key(record.created_at)}},
        }
        if record.status is ClassificationStatus.PENDING:
            # (Real DynamoDB refuses an *empty* ExpressionAttributeNames, so only here.)
            condition["ConditionExpression"] = (
                "attribute_not_exists(pk) OR (created_at = :created AND #s = :pending)"
            )
            condition["ExpressionAttributeNames"] = {"#s": "status"}
            condition["ExpressionAttributeValues"][":pending"] = {"S": _PENDING}
        elif record.version > 0:
            # A correction: only over the version it was made against, so two WAS tasks
            # cannot both replace the same correction (the lock in the service is per task).
            prev = record.version - 1
            condition["ConditionExpression"] = "created_at = :created AND " + (
                "(attribute_not_exists(#v) OR #v = :prev)" if prev == 0 else "#v = :prev"
            )
            condition["ExpressionAttributeNames"] = {"#v": "version"}
            condition["ExpressionAttributeValues"][":prev"] = {"N": str(prev)}
        try:
            await self._db.put_item(TableName=self.table_name, Item=_item(record), **condition)
        except ClientError as exc:
            if _conditional_failure(exc):
                raise RecordConflict(
                    f"record {record.id!r} conflicts with the stored one"
                ) from None
            raise

    async def set_feedback(
        self, record_id: str, label: str, at: datetime
    ) -> StoredClassification | None:
        """Attach feedback to an existing, finished record; None when there is none.
        (The body is read, changed and written back under a condition on its status and
        old body, so a concurrent change makes this raise `RecordConflict`.)"""
        current = await self.get(record_id)
        if current is None:
            return None
        if current.status is ClassificationStatus.PENDING:
            raise RecordConflict(f"record {record_id!r} is still pending")
        updated = current.model_copy(update={"feedback_label": label, "feedback_at": at})
        try:
            await self._db.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": record_id}},
                UpdateExpression="SET body = :new, has_feedback = :yes",
                ConditionExpression="attribute_exists(pk) AND #s <> :pending AND body = :old",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":new": {"S": updated.model_dump_json()},
                    ":old": {"S": current.model_dump_json()},
                    ":yes": {"BOOL": True},
                    ":pending": {"S": _PENDING},
                },
            )
        except ClientError as exc:
            if _conditional_failure(exc):
                raise RecordConflict(f"record {record_id!r} changed meanwhile") from None
            raise
        return updated

    async def get(self, record_id: str) -> StoredClassification | None:
        """The record with `record_id`, or None (a strongly consistent read)."""
        response = await self._db.get_item(
            TableName=self.table_name, Key={"pk": {"S": record_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return _record(item) if item else None

    async def list(
        self, *, limit: int, cursor: str | None = None, has_feedback: bool | None = None
    ) -> tuple[list[StoredClassification], str | None]:
        """Up to `limit` records, newest first, strictly after `cursor`."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": "kind = :kind",
            "ExpressionAttributeValues": {":kind": {"S": KIND}},
            "ScanIndexForward": False,
        }
        if has_feedback is not None:
            query["FilterExpression"] = "has_feedback = :feedback"
            query["ExpressionAttributeValues"][":feedback"] = {"BOOL": has_feedback}
        start = _start_key(cursor) if cursor is not None else None
        items: list[dict[str, Any]] = []
        # One extra item says whether a next page exists.
        while len(items) <= limit:
            page_args = dict(query, Limit=limit + 1 - len(items))
            if start is not None:
                page_args["ExclusiveStartKey"] = start
            response = await self._db.query(**page_args)
            items.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if start is None:
                break
        page = items[:limit]
        next_cursor = None
        if len(items) > limit:
            last = page[-1]
            next_cursor = encode_cursor(last["created_at"]["S"], last["pk"]["S"])
        return [_record(item) for item in page], next_cursor

    async def list_pending(self, *, limit: int) -> builtins.list[StoredClassification]:
        """Up to `limit` pending records, oldest first (a filtered scan: the table's
        pending items are few, and recovery runs at start and now and then)."""
        items: list[dict[str, Any]] = []
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "#s = :pending",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":pending": {"S": _PENDING}},
        }
        while True:
            response = await self._db.scan(**args)
            items.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if start is None or len(items) >= limit * 4:
                break
            args["ExclusiveStartKey"] = start
        records = sorted((_record(item) for item in items), key=lambda r: (r.created_at, r.id))
        return records[:limit]

    async def list_created_before(
        self, moment: datetime, *, limit: int
    ) -> builtins.list[StoredClassification]:
        """Up to `limit` records created before `moment`, oldest first (the index)."""
        response = await self._db.query(
            TableName=self.table_name,
            IndexName=INDEX_NAME,
            KeyConditionExpression="kind = :kind AND created_at < :before",
            ExpressionAttributeValues={
                ":kind": {"S": KIND},
                ":before": {"S": created_key(moment)},
            },
            ScanIndexForward=True,
            Limit=limit,
        )
        return [_record(item) for item in response.get("Items", [])]

    async def delete(self, record_id: str) -> bool:
        """Remove the record; False when there was none."""
        response = await self._db.delete_item(
            TableName=self.table_name, Key={"pk": {"S": record_id}}, ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))

    async def ping(self) -> None:
        """Raise if the table cannot answer (a read the task role may do anyway, unlike
        DescribeTable)."""
        await self._db.get_item(TableName=self.table_name, Key={"pk": {"S": "ping"}})
