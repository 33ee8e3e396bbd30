"""The live bus to browsers: any thread publishes, every connected WebSocket (or poller) receives.

    hub.publish("alert", {"id": 7, "severity": "high", ...})      # from the pipeline's threads

Messages are ``{"seq": n, "topic": "...", "data": {...}}``. The hub keeps the last ``history`` messages so that
a browser without WebSocket can poll ``/api/v1/live/poll?after=<seq>`` and miss nothing recent. Each
subscriber has a bounded queue: a slow browser loses its oldest messages, never slows the pipeline.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

TOPICS = ("alert", "block", "events", "stats")


class LiveHub:
    def __init__(self, history: int = 500, queue_size: int = 200) -> None:
        self._history: deque[dict[str, Any]] = deque(maxlen=history)
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self._changed: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The server's event loop (called at start-up): publishes from other threads are handed to it."""
        self._loop = loop
        self._changed = asyncio.Event()

    @property
    def seq(self) -> int:
        return self._seq

    def publish(self, topic: str, data: Any) -> None:
        """From any thread. Never blocks."""
        with self._lock:
            self._seq += 1
            message = {"seq": self._seq, "topic": topic, "data": data}
            self._history.append(message)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(message)
        else:
            try:
                loop.call_soon_threadsafe(self._deliver, message)
            except RuntimeError:  # the loop closed meanwhile (shutting down)
                pass

    def since(self, after: int) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self._history if m["seq"] > after]

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def wait(self, after: int, timeout: float) -> list[dict[str, Any]]:
        """Messages after ``after``, waiting up to ``timeout`` seconds for one (long polling)."""
        found = self.since(after)
        if found or self._changed is None:
            return found
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        return self.since(after)

    def _deliver(self, message: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                try:
                    queue.get_nowait()  # drop this subscriber's oldest
                except asyncio.QueueEmpty:
                    pass
            queue.put_nowait(message)
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()
