"""The model page's charts, drawn as SVG on the server: no JavaScript needed, nothing
fetched from anywhere. Colours come from the stylesheet's classes (so dark mode and
contrast follow the page), and each chart is an image with a title and a description
that states its data in words.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

__all__ = ["ClassBars", "HistoryPoint", "accuracy_history", "class_bars", "confusion_matrix"]

_CELL = 56
_FONT = 13
# From the Hangul Jamo block on, glyphs are taken as full-width (one em).
_WIDE_GLYPHS_FROM = 0x1100
# A confusion-matrix cell holding more than this share of its row is drawn strong.
_STRONG_SHARE = 0.75


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg(chart_id: str, width: float, height: float, *, title: str, desc: str, body: str) -> Markup:
    return Markup(
        f'<svg class="chart" id="{_e(chart_id)}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-labelledby="{_e(chart_id)}-t {_e(chart_id)}-d" '
        f'width="{width:.0f}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{_e(chart_id)}-t">{_e(title)}</title>'
        f'<desc id="{_e(chart_id)}-d">{_e(desc)}</desc>{body}</svg>'
    )


def _text_width(text: str) -> float:
    """Roughly how wide `text` is at 13 px: Hangul and other wide glyphs take a full em."""
    return sum(13.0 if ord(char) >= _WIDE_GLYPHS_FROM else 7.4 for char in text)


def _label_width(names: Sequence[str]) -> float:
    return 16 + max((_text_width(name) for name in names), default=30.0)


def confusion_matrix(
    names: Sequence[str],
    matrix: Sequence[Sequence[int]],
    *,
    title: str,
    actual: str,
    predicted: str,
) -> Markup:
    """Rows are the true classes, columns the predictions; a cell's shade is its share
    of the row (the class's recall on the diagonal)."""
    n = len(names)
    left = _label_width(names) + 22
    top = _label_width(names) * 0.75 + 30
    # Room on the right for the last column's label, which leans up and to the right.
    width = left + n * _CELL + _label_width(names) * 0.8
    height = top + n * _CELL + 10
    parts = [
        f'<text class="axis" x="{left + n * _CELL / 2:.0f}" y="14" text-anchor="middle">'
        f"{_e(predicted)}</text>",
        f'<text class="axis" transform="translate(14 {top + n * _CELL / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{_e(actual)}</text>',
    ]
    words = []
    for j, name in enumerate(names):
        x = left + j * _CELL + _CELL / 2
        parts.append(
            f'<text class="tick" transform="translate({x:.0f} {top - 8:.0f}) rotate(-40)">'
            f"{_e(name)}</text>"
        )
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        y = top + i * _CELL
        parts.append(
            f'<text class="tick" x="{left - 8:.0f}" y="{y + _CELL / 2 + 4:.0f}" '
            f'text-anchor="end">{_e(names[i])}</text>'
        )
        for j, count in enumerate(row):
            share = count / total
            x = left + j * _CELL
            strong = " strong" if share > _STRONG_SHARE else ""
            kind = "hit" if i == j else "miss"
            parts.append(
                f'<rect class="cell {kind}" x="{x:.0f}" y="{y:.0f}" width="{_CELL - 2}" '
                f'height="{_CELL - 2}" rx="6" fill-opacity="{0.08 + 0.92 * share:.2f}"/>'
                f'<text class="count{strong}" x="{x + _CELL / 2 - 1:.0f}" '
                f'y="{y + _CELL / 2 + 4:.0f}" text-anchor="middle">{count}</text>'
            )
            if count:
                words.append(f"{names[i]} → {names[j]}: {count}")
    return _svg("confusion", width, height, title=title, desc="; ".join(words), body="".join(parts))


@dataclass(frozen=True)
class ClassBars:
    """One class's precision and recall."""

    name: str
    precision: float
    recall: float


def class_bars(rows: Sequence[ClassBars], *, title: str, precision: str, recall: str) -> Markup:
    """Precision and recall per class as pairs of horizontal bars, 0-100 %."""
    left = _label_width([row.name for row in rows])
    scale = 300.0
    row_height = 44
    top = 30
    width = left + scale + 60
    height = top + row_height * len(rows) + 8
    parts = [
        f'<rect class="bar precision" x="{left:.0f}" y="6" width="12" height="12" rx="2"/>'
        f'<text class="tick" x="{left + 18:.0f}" y="16">{_e(precision)}</text>'
        f'<rect class="bar recall" x="{left + 130:.0f}" y="6" width="12" height="12" rx="2"/>'
        f'<text class="tick" x="{left + 148:.0f}" y="16">{_e(recall)}</text>'
    ]
    words = []
    for k, row in enumerate(rows):
        y = top + k * row_height
        parts.append(
            f'<text class="tick" x="{left - 8:.0f}" y="{y + 22:.0f}" text-anchor="end">'
            f"{_e(row.name)}</text>"
        )
        for offset, kind, value in ((2, "precision", row.precision), (20, "recall", row.recall)):
            parts.append(
                f'<rect class="bar {kind}" x="{left:.0f}" y="{y + offset:.0f}" '
                f'width="{max(1.0, scale * value):.1f}" height="16" rx="3"/>'
                f'<text class="value" x="{left + scale * value + 6:.1f}" '
                f'y="{y + offset + 13:.0f}">{value * 100:.0f}%</text>'
            )
        words.append(
            f"{row.name}: {precision} {row.precision * 100:.0f}%, {recall} {row.recall * 100:.0f}%"
        )
    return _svg("per-class", width, height, title=title, desc="; ".join(words), body="".join(parts))


@dataclass(frozen=True)
class HistoryPoint:
    """One registered version's held-out accuracy."""

    label: str
    created_at: datetime
    accuracy: float
    deployed: bool


def accuracy_history(points: Sequence[HistoryPoint], *, title: str, deployed: str) -> Markup:
    """Accuracy of each version over time (x: registration time), the deployed one ringed
    and named."""
    width, height = 640.0, 240.0
    left, right, top, bottom = 48.0, 24.0, 20.0, 44.0
    low = min([0.5, *(p.accuracy for p in points)])
    start = min(p.created_at for p in points)
    span = max((max(p.created_at for p in points) - start).total_seconds(), 1.0)

    def x_of(point: HistoryPoint) -> float:
        if len(points) == 1:
            return left + (width - left - right) / 2
        return left + (point.created_at - start).total_seconds() / span * (width - left - right)

    def y_of(value: float) -> float:
        return top + (1 - (value - low) / (1 - low or 1)) * (height - top - bottom)

    parts = []
    for tick in (low, (low + 1) / 2, 1.0):
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{left:.0f}" x2="{width - right:.0f}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6:.0f}" y="{y + 4:.1f}" text-anchor="end">'
            f"{tick * 100:.0f}%</text>"
        )
    line = " ".join(f"{x_of(p):.1f},{y_of(p.accuracy):.1f}" for p in points)
    parts.append(f'<polyline class="trend" points="{line}"/>')
    words = []
    for point in points:
        x, y = x_of(point), y_of(point.accuracy)
        parts.append(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="5"/>')
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{height - bottom + 18:.0f}" '
            f'text-anchor="middle">{_e(point.label)}</text>'
        )
        note = ""
        if point.deployed:
            parts.append(f'<circle class="ring" cx="{x:.1f}" cy="{y:.1f}" r="10"/>')
            anchor = "end" if x > width / 2 else "start"
            dx = -14 if anchor == "end" else 14
            parts.append(
                f'<text class="value strong-label" x="{x + dx:.1f}" y="{y - 10:.1f}" '
                f'text-anchor="{anchor}">{_e(deployed)}</text>'
            )
            note = f" ({deployed})"
        words.append(
            f"{point.label} {point.created_at:%Y-%m-%d %H:%M}: {point.accuracy * 100:.1f}%{note}"
        )
    return _svg(
        "history-chart", width, height, title=title, desc="; ".join(words), body="".join(parts)
    )
