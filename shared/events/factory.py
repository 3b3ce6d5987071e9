"""Build the event bus a setting names."""

from __future__ import annotations

from typing import Literal

from shared.events.bus import EventBus
from shared.events.memory import MemoryEventBus

__all__ = ["BusBackend", "create_bus"]

# "aws" (EventBridge + one SQS queue per consumer) joins this list in a later issue.
BusBackend = Literal["memory"]


def create_bus(backend: BusBackend = "memory") -> EventBus:
    """A new, not yet started bus of the named backend."""
    if backend == "memory":
        return MemoryEventBus()
    raise ValueError(f"unknown event bus backend {backend!r}")
