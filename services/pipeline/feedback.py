"""Export WAS's corrected examples as an image folder (one sub-folder per label).

Pages through `GET /api/v1/classifications?has_feedback=true` (cursor pagination) and
downloads each record's image from `GET /api/v1/classifications/{id}/image`, writing
`<out>/<feedback_label>/<id>.<ext>`. Files already there are kept, so a repeated
export only fetches what is new. Through the gateway, pass its API key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from services.pipeline.errors import PipelineError
from shared.contracts.classification import ClassificationPage
from shared.image_formats import format_for_type
from shared.logging import get_logger

__all__ = ["FeedbackExport", "export_feedback"]

_log = get_logger("kkot.pipeline.feedback")
# A label becomes a folder name: no separators, no control characters, no leading dot.
_SAFE = re.compile(r"^(?!\.)[^/\\\x00-\x1f]{1,200}$")
PAGE_SIZE = 100
MAX_PAGES = 10_000  # a bound on the loop even if a server kept returning cursors


@dataclass
class FeedbackExport:
    written: int = 0
    kept: int = 0
    skipped: list[str] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)


async def export_feedback(
    was_url: str,
    out_dir: Path,
    *,
    api_key: str | None = None,
    timeout_s: float = 30.0,
    page_size: int = PAGE_SIZE,
) -> FeedbackExport:
    """Write every corrected example WAS holds into `out_dir`; return what was done."""
    base = was_url.rstrip("/")
    headers = {"X-API-Key": api_key} if api_key else {}
    result = FeedbackExport()
    _save(out_dir, None)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params = {"has_feedback": "true", "limit": str(page_size)}
            if cursor:
                params["cursor"] = cursor
            page = ClassificationPage.model_validate_json(
                await _get(session, f"{base}/api/v1/classifications", params)
            )
            for record in page.items:
                label = record.feedback_label
                if not label or not _SAFE.match(label) or not _SAFE.match(record.id):
                    result.skipped.append(f"{record.id}: unusable label {label!r}")
                    continue
                known = format_for_type(record.content_type)
                suffix = f".{known.extension}" if known else ".img"
                target = out_dir / label / f"{record.id}{suffix}"
                result.labels[label] = result.labels.get(label, 0) + 1
                if _exists(target):
                    result.kept += 1
                    continue
                data = await _get(session, f"{base}/api/v1/classifications/{record.id}/image")
                _save(target, data)
                result.written += 1
            cursor = page.next_cursor
            if not cursor:
                break
    _log.info("feedback_exported", written=result.written, kept=result.kept, labels=result.labels)
    return result


async def _get(
    session: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None
) -> bytes:
    try:
        async with session.get(url, params=params) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise PipelineError(f"GET {url} answered {resp.status}: {body[:300]!r}")
            return body
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PipelineError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc


def _exists(path: Path) -> bool:
    return path.exists()


def _save(path: Path, data: bytes | None) -> None:
    """Write `data` to `path` (making folders); with None, just make `path` a folder."""
    if data is None:
        path.mkdir(parents=True, exist_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
