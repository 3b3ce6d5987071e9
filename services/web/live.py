"""Fan-out of completed classifications to live (server-sent events) clients.

Each client has its own bounded queue so one slow browser never holds up the others
or the feed: when its queue is full it is dropped and its EventSource reconnects.
Closing the broadcaster ends every stream, which lets shutdown finish promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from shared.contracts.classification import ClassificationRecord

__all__ = ["Broadcaster", "Listener", "LiveItem", "Removed", "TooManyListeners"]


@dataclass(frozen=True)
class Removed:
    """A history item that was deleted: live pages drop it."""

    id: str


LiveItem = ClassificationRecord | Removed


class TooManyListeners(Exception):
    """The live-client cap is reached."""


class Listener:
    """One client's queue; `None` in it means "stream over"."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[LiveItem | None] = asyncio.Queue(size)
        self.dropped = False

    def offer(self, record: LiveItem) -> bool:
        """Queue `record`; False (and the stream is ended) when the client lags."""
        try:
            self.queue.put_nowait(record)
            return True
        except asyncio.QueueFull:
            self.end()
            self.dropped = True
            return False

    def end(self) -> None:
        # Make room for the end marker even when the queue is full.
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()


class Broadcaster:
    """The set of live listeners."""

    def __init__(self, queue_size: int, max_listeners: int) -> None:
        self._queue_size = queue_size
        self._max = max_listeners
        self._listeners: set[Listener] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._listeners)

    def publish(self, record: LiveItem) -> None:
        """Hand `record` to every listener; never waits."""
        for listener in list(self._listeners):
            if not listener.offer(record):
                self._listeners.discard(listener)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[Listener]:
        """Register a listener for the lifetime of one stream."""
        if self._closed or len(self._listeners) >= self._max:
            raise TooManyListeners
        listener = Listener(self._queue_size)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)

    def close(self) -> None:
        """End every stream (shutdown)."""
        self._closed = True
        for listener in list(self._listeners):
            listener.end()
        self._listeners.clear()
