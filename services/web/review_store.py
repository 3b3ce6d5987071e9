"""Where the Review page reads the review set and writes the label overrides.

Local flavour: files in the settings' `review_dir` (what `kkot data review --out`
wrote) and `overrides_file`. The overrides file is read, changed and replaced
atomically under one lock per process, so two clicks never lose each other's
decision; the photo folder is never touched. (On AWS the same two files would live in
the models bucket, written with a conditional put: README "Reviewing labels".)
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from shared.contracts.review import (
    OVERRIDES_FILE,
    REVIEW_SET_FILE,
    Decision,
    LabelOverride,
    LabelOverrides,
    ReviewItem,
    ReviewSet,
)
from shared.errors import BadRequest, Conflict, NotFound
from shared.files import atomic_write

__all__ = ["ReviewStore"]

_THUMBNAIL = re.compile(r"^thumbnails/[0-9a-f]{24}\.jpg$")


class ReviewStore:
    """The review set and the overrides file of one review folder."""

    def __init__(self, review_dir: Path, overrides_file: Path | None = None) -> None:
        self.review_dir = review_dir
        self.overrides_file = overrides_file or review_dir / OVERRIDES_FILE
        self._lock = asyncio.Lock()
        self._cached: tuple[tuple[int, int], ReviewSet] | None = None

    async def review_set(self) -> ReviewSet | None:
        """The review set, or None when none was made (or it cannot be read).

        Parsed again only when the file changes: a page asks for it once per thumbnail.
        """
        path = self.review_dir / REVIEW_SET_FILE
        try:
            stat = await asyncio.to_thread(path.stat)
            stamp = (stat.st_mtime_ns, stat.st_size)
            if self._cached is None or self._cached[0] != stamp:
                data = await asyncio.to_thread(path.read_bytes)
                self._cached = (stamp, ReviewSet.model_validate_json(data))
        except (OSError, ValidationError):
            return None
        return self._cached[1]

    async def overrides(self) -> LabelOverrides:
        """The decisions so far (none when the file does not exist yet)."""
        try:
            data = await asyncio.to_thread(self.overrides_file.read_bytes)
        except FileNotFoundError:
            return LabelOverrides()
        try:
            return LabelOverrides.model_validate_json(data)
        except ValidationError as exc:
            # Someone edited it by hand: refuse to overwrite their work.
            raise Conflict(f"{self.overrides_file.name} is not a valid overrides file") from exc

    async def thumbnail(self, name: str) -> bytes:
        """A thumbnail the review set names; NotFound for anything else."""
        review = await self.review_set()
        if (
            not _THUMBNAIL.match(name)
            or review is None
            or not any(item.thumbnail == name for item in review.items)
        ):
            raise NotFound("no such thumbnail")
        try:
            return await asyncio.to_thread((self.review_dir / name).read_bytes)
        except OSError as exc:
            raise NotFound("no such thumbnail") from exc

    async def decide(
        self, sha256: str, decision: Decision, new_label: str | None, who: str
    ) -> LabelOverride:
        """Record a decision about the review set's photo `sha256` (replacing an
        earlier one). NotFound for a photo not in the set, BadRequest for a label
        the set does not know."""
        review = await self.review_set()
        item = _item(review, sha256)
        assert review is not None
        if new_label is not None and new_label not in review.labels:
            raise BadRequest(f"unknown label {new_label!r}")
        try:
            override = LabelOverride(
                sha256=sha256,
                path=item.path,
                label=item.label,
                decision=decision,
                new_label=new_label,
                decided_by=who,
                decided_at=datetime.now(UTC),
            )
        except ValidationError as exc:
            raise BadRequest(exc.errors()[0]["msg"]) from exc
        async with self._lock:
            changed = (await self.overrides()).decided(override)
            data = changed.model_dump_json(indent=2).encode()
            await asyncio.to_thread(atomic_write, self.overrides_file, data)
        return override


def _item(review: ReviewSet | None, sha256: str) -> ReviewItem:
    for item in review.items if review else []:
        if item.sha256 == sha256:
            return item
    raise NotFound("that photo is not in the review set")
