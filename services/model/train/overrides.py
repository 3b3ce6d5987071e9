"""Label overrides in a training job: read the reviewed file, say what it changed.

The file is a `shared.contracts.review.LabelOverrides` (what the web UI's Review page
writes). `scan_dataset` applies it by content hash; this module reads and checks it,
and summarises the result for the validation report, the model card and the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from services.model.train.errors import DatasetError
from shared.contracts.review import Decision, LabelOverrides, OverridesApplied

__all__ = ["ReadOverrides", "read_overrides", "summarise"]


@dataclass(frozen=True)
class ReadOverrides:
    """A parsed overrides file and the digest of its bytes."""

    overrides: LabelOverrides
    digest: str


def read_overrides(path: Path | None) -> ReadOverrides | None:
    """The file at `path` (None: no overrides). Raises DatasetError when unusable."""
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read label overrides {path}: {exc.strerror}") from exc
    try:
        overrides = LabelOverrides.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise DatasetError(
            f"label overrides {path} are not valid: {where}: {first['msg']}"
        ) from exc
    return ReadOverrides(overrides=overrides, digest=OverridesApplied.digest_of(data))


def summarise(
    read: ReadOverrides, relabelled: list[str], excluded: list[str], matched: int
) -> OverridesApplied:
    """What applying `read` did (`matched`: how many of its changing decisions met a photo)."""
    decisions = read.overrides.overrides
    changing = sum(1 for o in decisions if o.decision != Decision.KEEP)
    return OverridesApplied(
        digest=read.digest,
        decisions=len(decisions),
        relabelled=relabelled,
        excluded=excluded,
        kept=sum(1 for o in decisions if o.decision == Decision.KEEP),
        unmatched=changing - matched,
    )
