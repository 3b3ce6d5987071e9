"""WAS over HTTP: one pooled `ClientSession`, typed answers (the shared contracts),
and failures as `WasFailure` carrying WAS's error code for a friendly message."""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from shared.contracts.classification import (
    ClassificationPage,
    ClassificationRecord,
    CurrentModel,
    FeedbackRequest,
    LabelsResponse,
    ModelVersions,
    ReadinessResponse,
)
from shared.contracts.errors import ErrorResponse
from shared.contracts.model import Language
from shared.middleware import REQUEST_ID_HEADER
from shared.principal import PRINCIPAL_HEADER, current_principal

__all__ = ["Health", "WasClient", "WasFailure"]

M = TypeVar("M", bound=BaseModel)


class WasFailure(Exception):
    """WAS answered with an error, answered garbage, or could not be reached."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Health(BaseModel):
    """What the status page shows about one probe."""

    ok: bool
    status: int | None = None
    latency_ms: float | None = None
    detail: str = ""
    readiness: ReadinessResponse | None = None


class WasClient:
    """Calls WAS's JSON API; `request_id` is passed on so one id spans the whole path."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")

    async def classify(
        self,
        data: bytes,
        filename: str,
        content_type: str,
        language: Language,
        request_id: str | None = None,
    ) -> ClassificationRecord:
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename, content_type=content_type)
        return await self._call(
            "POST",
            "/api/v1/classifications",
            ClassificationRecord,
            language,
            request_id,
            data=form,
        )

    async def get(
        self, classification_id: str, language: Language, request_id: str | None = None
    ) -> ClassificationRecord:
        return await self._call(
            "GET",
            f"/api/v1/classifications/{classification_id}",
            ClassificationRecord,
            language,
            request_id,
        )

    async def list(
        self,
        language: Language,
        *,
        limit: int,
        cursor: str | None = None,
        request_id: str | None = None,
    ) -> ClassificationPage:
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        return await self._call(
            "GET",
            "/api/v1/classifications",
            ClassificationPage,
            language,
            request_id,
            params=params,
        )

    async def feedback(
        self,
        classification_id: str,
        label: str,
        language: Language,
        request_id: str | None = None,
        *,
        if_match: str | None = None,
    ) -> ClassificationRecord:
        """Correct a record; `if_match` is the version the person saw (replacing
        someone else's correction needs it)."""
        body = FeedbackRequest(label=label).model_dump(mode="json")
        extra = {"If-Match": f'"{if_match}"'} if if_match is not None else {}
        return await self._call(
            "POST",
            f"/api/v1/classifications/{classification_id}/feedback",
            ClassificationRecord,
            language,
            request_id,
            json=body,
            extra_headers=extra,
        )

    async def labels(self, language: Language, request_id: str | None = None) -> LabelsResponse:
        return await self._call("GET", "/api/v1/labels", LabelsResponse, language, request_id)

    async def current_model(
        self, language: Language, request_id: str | None = None, *, if_none_match: str | None = None
    ) -> tuple[str, CurrentModel] | None:
        """The deployed model and its ETag; None when it is still `if_none_match` (304)."""
        extra = {"If-None-Match": if_none_match} if if_none_match else {}
        headers = {**_headers(language, request_id), **extra}
        status, raw, etag = await self._send("GET", "/api/v1/models/current", headers)
        if status == HTTPStatus.NOT_MODIFIED:
            return None
        return etag, _parse(CurrentModel, raw)

    async def versions(self, language: Language, request_id: str | None = None) -> ModelVersions:
        """Every registered model version (empty where WAS reads no registry)."""
        return await self._call("GET", "/api/v1/models", ModelVersions, language, request_id)

    async def health(self, request_id: str | None = None) -> Health:
        """WAS's own liveness (`/health`)."""
        return await self._probe("/health", request_id)

    async def ready(self, request_id: str | None = None) -> Health:
        """WAS's readiness (`/ready`): includes the model endpoint's health."""
        return await self._probe("/ready", request_id)

    async def _probe(self, path: str, request_id: str | None) -> Health:
        started = time.perf_counter()
        try:
            async with self._session.get(
                self._base + path, headers=_headers(None, request_id)
            ) as r:
                raw = await r.read()
                latency = round((time.perf_counter() - started) * 1000, 1)
                readiness = None
                if path == "/ready":
                    try:
                        readiness = ReadinessResponse.model_validate_json(raw)
                    except ValidationError:
                        readiness = None
                return Health(
                    ok=r.status == 200, status=r.status, latency_ms=latency, readiness=readiness
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Health(ok=False, detail=type(exc).__name__)

    async def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        language: Language,
        request_id: str | None,
        extra_headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> M:
        headers = {**_headers(language, request_id), **(extra_headers or {})}
        _, raw, _ = await self._send(method, path, headers, **kwargs)
        return _parse(model, raw)

    async def _send(
        self, method: str, path: str, headers: dict[str, str], **kwargs: Any
    ) -> tuple[int, bytes, str]:
        """Status, body and ETag of a call; WAS's errors raise `WasFailure`."""
        try:
            async with self._session.request(
                method, self._base + path, headers=headers, **kwargs
            ) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise _failure(response.status, raw)
                return response.status, raw, response.headers.get("ETag", "")
        except aiohttp.ClientError as exc:
            raise WasFailure(502, "was_unreachable", type(exc).__name__) from exc
        except TimeoutError as exc:
            raise WasFailure(504, "upstream_timeout", "WAS did not answer in time") from exc


def _parse(model: type[M], raw: bytes) -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise WasFailure(502, "bad_answer", "WAS answered an unexpected shape") from exc


def _headers(language: Language | None, request_id: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    # Web acts for the person the gateway identified (see shared.principal).
    principal = current_principal.get()
    if principal:
        headers[PRINCIPAL_HEADER] = principal
    if language:
        headers["Accept-Language"] = language
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    return headers


def _failure(status: int, raw: bytes) -> WasFailure:
    try:
        body = ErrorResponse.model_validate_json(raw).error
        return WasFailure(status, body.code, body.message)
    except ValidationError:
        return WasFailure(status, "http_" + str(status))
