"""Classification records: the `ClassificationStore` interface and its SQLite backend.

Listing is newest first with *keyset* pagination: the cursor is an opaque base64 of
the last row's `(created_at, id)`, and the next page is the rows strictly below it in
that order. New rows sort above every cursor already handed out, so paging is stable
under concurrent inserts (no duplicates, no gaps), unlike OFFSET paging.

The DynamoDB backend (`store_dynamodb.py`) keeps the same interface: its cursor is the
encoded index key of the last item of a page.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import aiosqlite

from services.was.cursors import InvalidCursor, decode_cursor, encode_cursor
from services.was.records import StoredClassification

__all__ = ["ClassificationStore", "SqliteClassificationStore"]

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS classifications (
        id TEXT PRIMARY KEY,
        created_us INTEGER NOT NULL,
        has_feedback INTEGER NOT NULL DEFAULT 0,
        body TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS classifications_by_created "
    "ON classifications (created_us DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS classifications_by_feedback "
    "ON classifications (has_feedback, created_us DESC, id DESC)",
)


# Far beyond any real timestamp, far below SQLite's 2**63 limit.
_MAX_MICROS = 2**62


class ClassificationStore(Protocol):
    """Where classification records live."""

    async def put(self, record: StoredClassification) -> None:
        """Insert `record`, or replace the record with the same id."""

    async def get(self, record_id: str) -> StoredClassification | None:
        """The record with `record_id`, or None."""

    async def list(
        self, *, limit: int, cursor: str | None = None, has_feedback: bool | None = None
    ) -> tuple[list[StoredClassification], str | None]:
        """Up to `limit` records, newest first, after `cursor`; and the next cursor."""

    async def list_pending(self, *, limit: int) -> builtins.list[StoredClassification]:
        """Up to `limit` records still `pending`, oldest first (for job recovery)."""

    async def delete(self, record_id: str) -> bool:
        """Remove the record; False when there was none."""

    async def list_created_before(
        self, moment: datetime, *, limit: int
    ) -> builtins.list[StoredClassification]:
        """Up to `limit` records created before `moment`, oldest first (retention)."""

    async def ping(self) -> None:
        """Raise if the store cannot answer."""


def _micros(moment: datetime) -> int:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def _position(cursor: str) -> tuple[int, str]:
    """The `(created_us, id)` a cursor names; `InvalidCursor` for anything else."""
    created_us, record_id = decode_cursor(cursor, int)
    # Bounded: SQLite integers are 64-bit, and a 31-digit number would overflow there.
    if not 0 <= created_us < _MAX_MICROS:
        raise InvalidCursor("invalid cursor")
    return created_us, record_id


class SqliteClassificationStore:
    """One aiosqlite connection in WAL mode (readers never block the writer)."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    @classmethod
    async def open(cls, path: Path, *, power_safe: bool = False) -> SqliteClassificationStore:
        """Open (creating folder, file and schema as needed). A committed write always
        survives a crash of the process (WAL); with `power_safe` also a power cut
        (synchronous=FULL: the WAL is synced at every commit)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every write here is one statement, so it is its own transaction
        # and needs no separate COMMIT, one trip to the database thread fewer.
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute(f"PRAGMA synchronous={'FULL' if power_safe else 'NORMAL'}")
            await db.execute("PRAGMA busy_timeout=5000")
            for statement in _SCHEMA:
                await db.execute(statement)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def put(self, record: StoredClassification) -> None:
        """Insert or replace `record`."""
        await self._db.execute(
            "INSERT INTO classifications (id, created_us, has_feedback, body) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "has_feedback = excluded.has_feedback, body = excluded.body",
            (
                record.id,
                _micros(record.created_at),
                int(record.feedback_label is not None),
                record.model_dump_json(),
            ),
        )

    async def get(self, record_id: str) -> StoredClassification | None:
        """The record with `record_id`, or None."""
        async with self._db.execute(
            "SELECT body FROM classifications WHERE id = ?", (record_id,)
        ) as rows:
            row = await rows.fetchone()
        return StoredClassification.model_validate_json(row[0]) if row else None

    async def list(
        self, *, limit: int, cursor: str | None = None, has_feedback: bool | None = None
    ) -> tuple[list[StoredClassification], str | None]:
        """Up to `limit` records, newest first, strictly after `cursor`."""
        where: list[str] = []
        params: list[object] = []
        if cursor is not None:
            created_us, record_id = _position(cursor)
            where.append("(created_us, id) < (?, ?)")
            params += [created_us, record_id]
        if has_feedback is not None:
            where.append("has_feedback = ?")
            params.append(int(has_feedback))
        sql = "SELECT created_us, id, body FROM classifications"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_us DESC, id DESC LIMIT ?"
        params.append(limit + 1)  # one extra row says whether a next page exists
        async with self._db.execute(sql, params) as rows:
            fetched = list(await rows.fetchall())
        page = fetched[:limit]
        items = [StoredClassification.model_validate_json(row[2]) for row in page]
        next_cursor = encode_cursor(page[-1][0], page[-1][1]) if len(fetched) > limit else None
        return items, next_cursor

    async def list_pending(self, *, limit: int) -> builtins.list[StoredClassification]:
        """Up to `limit` pending records, oldest first (a scan: pending rows are few)."""
        async with self._db.execute(
            "SELECT body FROM classifications WHERE json_extract(body, '$.status') = ? "
            "ORDER BY created_us, id LIMIT ?",
            ("pending", limit),
        ) as rows:
            fetched = list(await rows.fetchall())
        return [StoredClassification.model_validate_json(row[0]) for row in fetched]

    async def list_created_before(
        self, moment: datetime, *, limit: int
    ) -> builtins.list[StoredClassification]:
        """Up to `limit` records created before `moment`, oldest first."""
        async with self._db.execute(
            "SELECT body FROM classifications WHERE created_us < ? ORDER BY created_us, id LIMIT ?",
            (_micros(moment), limit),
        ) as rows:
            fetched = list(await rows.fetchall())
        return [StoredClassification.model_validate_json(row[0]) for row in fetched]

    async def delete(self, record_id: str) -> bool:
        """Remove the record; False when there was none."""
        cursor = await self._db.execute("DELETE FROM classifications WHERE id = ?", (record_id,))
        return cursor.rowcount > 0

    async def ping(self) -> None:
        """Raise if the database cannot answer."""
        async with self._db.execute("SELECT 1") as rows:
            await rows.fetchone()
