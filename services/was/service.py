"""The classification workflow, shared by the synchronous and background paths.

    submit()   store the image (blob) and a pending record, publish
               `classification.requested` (correlation id = the request id)
    complete() call the endpoint, store the result, publish `classification.completed`
               (or `classification.failed` and re-raise the error)
    on_requested()  the bus consumer that runs complete() for `Prefer: respond-async` jobs
    add_feedback()  "this was actually <label>", checked against the model's labels

Each answer carries the model name/version and the timing split: `endpoint_ms` (the
round trip to the endpoint, retries included), `model_ms` (the model server's own
time) and `was_ms` (everything else WAS did for the request).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import structlog

from services.was.endpoint import EndpointClient
from services.was.endpoint_payload import fit_for_endpoint
from services.was.model_info import ModelInfo
from services.was.records import StoredClassification, outcome_of, render_record
from services.was.store import ClassificationStore
from services.was.uploads import Upload
from shared.catalog import flower_catalog
from shared.contracts.classification import (
    ClassificationRecord,
    ClassificationStatus,
    ClassificationTiming,
)
from shared.contracts.events import (
    ClassificationCompleted,
    ClassificationDeleted,
    ClassificationFailed,
    ClassificationRequested,
    Event,
    EventType,
    ModelDeployed,
)
from shared.contracts.model import Catalog, Language, Preprocessing
from shared.contracts.prediction import SAGEMAKER_MAX_PAYLOAD_BYTES
from shared.errors import (
    Conflict,
    Forbidden,
    KkotError,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
)
from shared.events import EventBus
from shared.principal import ANONYMOUS, is_key_principal
from shared.storage import BlobNotFound, BlobStore

__all__ = ["SOURCE", "ClassificationService", "image_path"]

SOURCE = "kkot.was"
_log = structlog.get_logger("kkot.was")


def image_path(record_id: str) -> str:
    """Where the API serves a record's image (relative, so it works behind the gateway)."""
    return f"/api/v1/classifications/{record_id}/image"


def _now() -> datetime:
    return datetime.now(UTC)


def _gave_up(attempts: int) -> KkotError:
    return KkotError(
        f"the job was interrupted {attempts} times (the service stopped while it ran); "
        "it will not be tried again",
        code="job_gave_up",
    )


class ClassificationService:
    """Classify images, keep the records, and tell the bus about it."""

    def __init__(
        self,
        *,
        store: ClassificationStore,
        blobs: BlobStore,
        bus: EventBus,
        endpoint: EndpointClient,
        model_info: ModelInfo,
        max_attempts: int = 3,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.bus = bus
        self.endpoint = endpoint
        self.model_info = model_info
        self.max_attempts = max_attempts
        # One correction at a time: the version check and the write must not interleave.
        self._feedback_lock = asyncio.Lock()

    def catalogs(self) -> tuple[Catalog, ...]:
        """Where display text comes from: the project's catalog, then the model's own."""
        snapshot = self.model_info.snapshot
        return (flower_catalog(), snapshot.catalog) if snapshot else (flower_catalog(),)

    def render(self, stored: StoredClassification, language: Language) -> ClassificationRecord:
        """The public record in `language`."""
        return render_record(stored, language, self.catalogs(), image_path(stored.id))

    async def submit(
        self,
        upload: Upload,
        *,
        language: Language,
        request_id: str,
        background: bool,
        principal: str | None = None,
    ) -> StoredClassification:
        """Keep the image and a pending record (both before any answer); announce it."""
        record_id = uuid.uuid4().hex
        created = _now()
        image_key = f"images/{created:%Y/%m/%d}/{record_id}.{upload.extension}"
        await self.blobs.put(image_key, upload.data, upload.content_type)
        stored = StoredClassification(
            id=record_id,
            status=ClassificationStatus.PENDING,
            created_at=created,
            request_id=request_id,
            filename=upload.filename,
            content_type=upload.content_type,
            image_key=image_key,
            created_by=principal,
            background=background,
            language=language,
        )
        await self.store.put(stored)
        if background:
            # Only a background job needs the event (its consumer does the work); a
            # synchronous request is answered here, and nothing else reads it.
            await self._announce(stored)
        return stored

    async def _announce(self, stored: StoredClassification) -> None:
        await self.bus.publish(
            Event(
                type=EventType.CLASSIFICATION_REQUESTED,
                source=SOURCE,
                correlation_id=stored.request_id,
                data=ClassificationRequested(
                    classification_id=stored.id,
                    image_key=stored.image_key,
                    content_type=stored.content_type,
                    language=stored.language,
                ),
            )
        )

    async def resume(self, stored: StoredClassification, *, max_attempts: int) -> None:
        """Run a pending job again (as a background job), or end it when it has used
        up its attempts."""
        if stored.attempts >= max_attempts:
            await self._fail(stored, _gave_up(stored.attempts))
            return
        await self._announce(stored)

    async def complete(
        self, stored: StoredClassification, data: bytes, *, started: float
    ) -> StoredClassification:
        """Classify `data` for the pending record `stored`; raise on failure."""
        try:
            snapshot = self.model_info.snapshot
            preprocessing = snapshot.preprocessing if snapshot else Preprocessing()
            payload = (
                # Decoding happens only for an oversized photo: then in a thread.
                await asyncio.to_thread(fit_for_endpoint, data, stored.content_type, preprocessing)
                if len(data) > SAGEMAKER_MAX_PAYLOAD_BYTES
                else fit_for_endpoint(data, stored.content_type, preprocessing)
            )
            if payload.reencoded:
                _log.info(
                    "payload_reencoded", original_bytes=len(data), sent_bytes=len(payload.data)
                )
            result = await self.endpoint.invoke(
                payload.data, payload.content_type, request_id=stored.request_id
            )
        except KkotError as exc:
            await self._fail(stored, exc)
            raise
        prediction = result.prediction
        await self.model_info.observe(prediction.model_version)
        total_ms = (time.perf_counter() - started) * 1000
        done = stored.model_copy(
            update={
                "status": ClassificationStatus.COMPLETED,
                "completed_at": _now(),
                "top_k": prediction.top_k,
                "model_name": prediction.model_name,
                "model_version": prediction.model_version,
                "timing": ClassificationTiming(
                    was_ms=round(max(0.0, total_ms - result.endpoint_ms), 3),
                    endpoint_ms=round(result.endpoint_ms, 3),
                    model_ms=round(prediction.timing.total_ms, 3),
                ),
            }
        )
        await self.store.put(done)
        await self.bus.publish(
            Event(
                type=EventType.CLASSIFICATION_COMPLETED,
                source=SOURCE,
                correlation_id=stored.request_id,
                data=ClassificationCompleted(outcome=outcome_of(done, image_path(done.id))),
            )
        )
        _log.info(
            "classified",
            classification_id=done.id,
            label=prediction.top_k[0].label if prediction.top_k else None,
            model_version=prediction.model_version,
            endpoint_ms=round(result.endpoint_ms, 1),
            attempts=result.attempts,
        )
        return done

    async def _fail(self, stored: StoredClassification, exc: KkotError) -> None:
        failed = stored.model_copy(
            update={
                "status": ClassificationStatus.FAILED,
                "completed_at": _now(),
                "error": exc.message,
                "error_code": exc.code,
            }
        )
        await self.store.put(failed)
        await self.bus.publish(
            Event(
                type=EventType.CLASSIFICATION_FAILED,
                source=SOURCE,
                correlation_id=stored.request_id,
                data=ClassificationFailed(
                    classification_id=stored.id,
                    error=exc.message,
                    code=exc.code,
                    outcome=outcome_of(failed, image_path(stored.id)),
                ),
            )
        )

    async def on_requested(self, event: Event) -> None:
        """Bus consumer: run a background job (idempotent: finished jobs are skipped)."""
        data = event.data
        if not isinstance(data, ClassificationRequested) or not data.background:
            return
        started = time.perf_counter()
        # The job's log lines carry the id of the request that asked for it.
        with structlog.contextvars.bound_contextvars(
            service="was", request_id=event.correlation_id, event_id=event.id
        ):
            stored = await self.store.get(data.classification_id)
            if stored is None or stored.status is not ClassificationStatus.PENDING:
                return
            if stored.attempts >= self.max_attempts:
                await self._fail(stored, _gave_up(stored.attempts))
                return
            # Counted before the work: a job that crashes its worker still uses it up.
            stored = stored.model_copy(update={"attempts": stored.attempts + 1})
            await self.store.put(stored)
            try:
                blob = await self.blobs.get(stored.image_key)
            except BlobNotFound:
                gone = KkotError("the photo of this job is gone", code="image_missing")
                await self._fail(stored, gone)
                return
            try:
                await self.complete(stored, blob.data, started=started)
            except KkotError:
                # Recorded as failed and announced; not an error of the consumer.
                return

    async def on_model_event(self, event: Event) -> None:
        """Bus consumer: `model.deployed` refreshes what WAS knows about the model."""
        if isinstance(event.data, ModelDeployed):
            await self.model_info.on_deployed(event.data)

    async def get(self, record_id: str) -> StoredClassification:
        """The record, or 404."""
        stored = await self.store.get(record_id)
        if stored is None:
            raise NotFound(f"no classification {record_id!r}")
        return stored

    async def current_labels(self) -> tuple[str, ...]:
        """The deployed model's labels (refreshing once if unknown), or 503."""
        snapshot = self.model_info.snapshot
        if snapshot is None or not snapshot.labels:
            snapshot = await self.model_info.refresh()
        if snapshot is None or not snapshot.labels:
            raise ServiceUnavailable("the deployed model's labels are not known yet")
        return snapshot.labels

    async def add_feedback(
        self, record_id: str, label: str, *, principal: str, if_match: int | None = None
    ) -> StoredClassification:
        """Keep the corrected label with the record (and so with its image), saying who
        gave it. A correction never silently replaces someone else's: that needs the
        `If-Match` version of the record the person saw (409 otherwise)."""
        labels = await self.current_labels()
        if label not in labels:
            raise Unprocessable(
                f"unknown label {label!r}; GET /api/v1/labels lists the {len(labels)} labels",
                code="unknown_label",
            )
        async with self._feedback_lock:
            stored = await self.get(record_id)
            if stored.status is ClassificationStatus.PENDING:
                raise Conflict("the classification is still running; send feedback when it is done")
            if if_match is not None and if_match != stored.version:
                raise Conflict(
                    f"the record changed since you read it (now version {stored.version}); "
                    "reload it and try again",
                    code="edit_conflict",
                )
            others = stored.feedback_by != principal or principal == ANONYMOUS
            if stored.feedback_label is not None and others and if_match is None:
                raise Conflict(
                    f"someone else already corrected this to {stored.feedback_label!r}; to "
                    f'replace it, send If-Match: "{stored.version}" (the version you saw)',
                    code="feedback_exists",
                )
            updated = stored.model_copy(
                update={
                    "feedback_label": label,
                    "feedback_at": _now(),
                    "feedback_by": principal,
                    "version": stored.version + 1,
                }
            )
            await self.store.put(updated)
            return updated

    async def delete(self, record_id: str, *, principal: str) -> None:
        """Remove the record and its photo. A record created with a key may only be
        deleted by that key's holder; others by anyone who may write."""
        stored = await self.get(record_id)
        if is_key_principal(stored.created_by) and stored.created_by != principal:
            raise Forbidden("only whoever created this record may delete it")
        await self._remove(stored)
        _log.info("classification_deleted", classification_id=record_id, by=principal)

    async def _remove(self, stored: StoredClassification) -> None:
        """Photo, record, then the announcement (live pages drop the item)."""
        await self.blobs.delete(stored.image_key)
        await self.store.delete(stored.id)
        await self.bus.publish(
            Event(
                type=EventType.CLASSIFICATION_DELETED,
                source=SOURCE,
                correlation_id=stored.request_id,
                data=ClassificationDeleted(classification_id=stored.id),
            )
        )

    async def purge_older_than(self, moment: datetime, *, limit: int = 500) -> int:
        """Delete records (and photos) created before `moment` (the retention rule)."""
        expired = await self.store.list_created_before(moment, limit=limit)
        for stored in expired:
            await self._remove(stored)
        if expired:
            _log.info("classifications_expired", count=len(expired))
        return len(expired)
