"""Which distributions an extra of kkot brings in, transitively, read from the installed
metadata of the development environment (which has every extra installed)."""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement

__all__ = ["closure", "kkot_requirements", "normalized"]


def normalized(name: str) -> str:
    """A distribution name as metadata compares them."""
    return name.lower().replace("_", "-")


def _wanted(requirement: Requirement, extras: frozenset[str]) -> bool:
    """Whether a requirement applies here, with `extras` of its requirer selected."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras | {""})


def _requirements(distribution: str, extras: frozenset[str]) -> list[Requirement]:
    try:
        requires = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    return [r for r in map(Requirement, requires) if _wanted(r, extras)]


def closure(roots: list[Requirement]) -> frozenset[str]:
    """The distributions `roots` need, transitively, following their extras."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(normalized(r.name), frozenset(r.extras)) for r in roots]
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        todo.extend((normalized(r.name), frozenset(r.extras)) for r in _requirements(*item))
    return frozenset(name for name, _ in seen)


def kkot_requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """kkot's own requirements with `extras` (none: the core)."""
    return _requirements("kkot", frozenset(extras))
