"""Pictures of a model for people, read from its artifact at load time: a few photos of
its smoke set as examples to try, and the thumbnails of misclassified photos that the
training job kept (both as small JPEG data: URIs, so they travel with the model's
description to WAS and the pages, wherever the artifact's disk is).

An artifact without them (the ImageNet default) simply has none.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.contracts.model import ExamplePhoto, MisclassifiedPhoto

__all__ = ["EXAMPLE_SIDE", "MAX_EXAMPLES", "MAX_MISCLASSIFIED", "load_pictures"]

SMOKE_FILE = "smoke_test.json"
MISCLASSIFIED_FILE = "misclassified.json"
# Bounds on what every description carries.
MAX_EXAMPLES = 6
MAX_MISCLASSIFIED = 24
# Examples are classified when clicked: large enough for the model's 256 px resize.
EXAMPLE_SIDE = 320


def _data_uri(path: Path, side: int | None) -> str:
    """`path` as a JPEG data: URI, shrunk to `side` (longest side) when given."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        if side is not None:
            rgb.thumbnail((side, side))
        buffer = io.BytesIO()
        rgb.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _inside(model_dir: Path, relative: str) -> Path | None:
    """`relative` under `model_dir`, or None when it points elsewhere or is missing."""
    path = (model_dir / relative).resolve()
    if not path.is_relative_to(model_dir.resolve()) or not path.is_file():
        return None
    return path


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _examples(model_dir: Path) -> list[ExamplePhoto]:
    smoke = _read_json(model_dir / SMOKE_FILE) or {}
    found: list[ExamplePhoto] = []
    seen: set[str] = set()
    cases = smoke.get("cases", [])
    # One per class first, so the examples show different flowers.
    for case in sorted(cases, key=lambda c: c.get("label") in seen):
        path = _inside(model_dir, str(case.get("file", "")))
        if path is None or case.get("label") in seen:
            continue
        seen.add(case["label"])
        found.append(ExamplePhoto(label=case["label"], image=_data_uri(path, EXAMPLE_SIDE)))
        if len(found) == MAX_EXAMPLES:
            break
    return found


def _misclassified(model_dir: Path) -> list[MisclassifiedPhoto]:
    listed = _read_json(model_dir / MISCLASSIFIED_FILE) or {}
    found: list[MisclassifiedPhoto] = []
    for item in listed.get("images", []):
        path = _inside(model_dir, str(item.get("thumbnail") or ""))
        if path is None:
            continue
        found.append(
            MisclassifiedPhoto(
                label=item["label"],
                predicted=item["predicted"],
                confidence=item["confidence"],
                image=_data_uri(path, None),
            )
        )
        if len(found) == MAX_MISCLASSIFIED:
            break
    return found


def load_pictures(model_dir: Path) -> tuple[list[ExamplePhoto], list[MisclassifiedPhoto]]:
    """(examples, misclassified) of the artifact in `model_dir`; unreadable ones skipped."""
    try:
        return _examples(model_dir), _misclassified(model_dir)
    except (OSError, ValueError, KeyError, TypeError, ValidationError):
        return [], []
