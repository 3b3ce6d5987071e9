"""Build the event bus a setting names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from shared.events.bus import EventBus
from shared.events.memory import MemoryEventBus

if TYPE_CHECKING:
    from shared.events.eventbridge import AwsBusConfig

__all__ = ["BusBackend", "create_bus"]

# "memory": in-process; "aws": EventBridge + one SQS queue per consumer (needs `aws`).
BusBackend = Literal["memory", "aws"]


def create_bus(backend: BusBackend = "memory", *, aws: AwsBusConfig | None = None) -> EventBus:
    """A new, not yet started bus of the named backend."""
    if backend == "memory":
        return MemoryEventBus()
    if backend == "aws":
        if aws is None:
            raise ValueError("the aws event bus needs its configuration (bus name, queue URLs)")
        # Imported here: aioboto3 is installed only where the aws backend is used.
        from shared.events.eventbridge import EventBridgeBus

        return EventBridgeBus(aws)
    raise ValueError(f"unknown event bus backend {backend!r}")
