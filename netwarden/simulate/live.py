"""Feeding a running pipeline in process: the simulator in a thread, in real time (``netwarden demo``).

It first fills the recent past (``history`` seconds, so charts and alerts are there at once), then sends
each emission when its time comes. Events go to a :class:`~netwarden.pipeline.LiveStream` like a listener's.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from netwarden.simulate.outputs import InProcess, paced
from netwarden.simulate.traffic import Emission, Simulator

log = logging.getLogger(__name__)
BACKLOG = 20_000  # events a stream may hold while the past is filled in, below its max_pending


class LiveFeeder:
    def __init__(self, stream: Any, simulator: Simulator, *, history: float = 600.0) -> None:
        self.stream = stream
        self.simulator = simulator
        self.history = max(0.0, history)
        self.converter = InProcess()
        self.fed = 0
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _feed(self, emissions: list[Emission]) -> None:
        for event in self.converter.events(emissions):
            while self.stream.pending >= BACKLOG and not self._stop.is_set():
                time.sleep(0.05)  # let the stream store before adding more
            if self._stop.is_set():
                return
            if self.stream.feed_event(event, event.observer):
                self.fed += 1

    def _run(self) -> None:
        try:
            now = time.time()
            if self.history:
                past = [e for e in self.simulator.generate(now - self.history, self.history) if e.ts <= now]
                for i in range(0, len(past), 2000):
                    if self._stop.is_set():
                        return
                    self._feed(past[i:i + 2000])
            live = self.simulator.generate(time.time(), float("inf"))
            for batch in paced(live, stop=self._stop.is_set):
                self._feed(batch)
        except Exception as exc:  # reported by the demo command; the server keeps running
            log.exception("the simulator stopped")
            self.error = exc
