"""What the running server shares with its pages: the live hub, the pipeline and its detection engine,
the listeners, and live figures (events per second).

Pages read it as ``request.app.state.runtime`` (or ``Depends(get_runtime)``). The web app never parses or
detects by itself: the pipeline it builds (:meth:`Runtime.build_pipeline`) tells it about new events and
alerts (``on_events``, ``on_alerts``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netwarden.records import Alert, Event
from netwarden.pipeline.live import alert_message, block_message, events_message
from netwarden.store.database import Database
from netwarden.web.jobs import BACKTESTS_KEPT, MODEL_JOBS_KEPT, JobBoard, KeptTexts
from netwarden.web.live import LiveHub

if TYPE_CHECKING:
    from netwarden.config import Settings
    from netwarden.detect.engine import DetectionEngine
    from netwarden.enrich.feed_fetch import FeedRefresher
    from netwarden.pipeline import Pipeline
    from netwarden.respond.responder import Responder


class RateMeter:
    """Events per second over the last ``window`` seconds (thread-safe)."""

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self._marks: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self.total = 0

    def add(self, n: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self.total += n
            self._marks.append((now, n))
            self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._trim(now)
            return sum(n for _, n in self._marks) / self.window

    def _trim(self, now: float) -> None:
        while self._marks and self._marks[0][0] < now - self.window:
            self._marks.popleft()


@dataclass
class ListenerInfo:
    kind: str  # "syslog udp", "syslog tcp", "netflow udp"
    address: str
    status: Any = None  # a callable returning a dict of counters, or None


@dataclass
class Runtime:
    db: Database
    settings: Settings
    hub: LiveHub = field(default_factory=LiveHub)
    pipeline: Pipeline | None = None  # with detection, once built (build_pipeline)
    # with a [bus]: what the HTTP intake feeds instead (netwarden.bus.attach: it publishes, workers store)
    intake: Pipeline | None = None
    sweep_gate: Callable[[], bool] | None = None  # with a [bus]: whether this process expires blocks for all
    listeners: list[ListenerInfo] = field(default_factory=list)
    rate: RateMeter = field(default_factory=RateMeter)
    started: float = field(default_factory=time.time)
    # given by `serve` (a web app built on its own has neither): the settings file's values before the web
    # app's changes (else read when the app starts), and how to put new listener addresses in force
    file_settings: Settings | None = None
    listen_on: Callable[[dict[str, list[str]]], None] | None = None
    # the web app's own live objects, made with it; their threads start explicitly (see start, manual_responder)
    responder: Responder = field(init=False)  # manual blocks when no pipeline responds
    feeds: FeedRefresher = field(init=False)  # the URL feeds' download schedule
    restart_pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # setting -> running, next start
    dashboard_cards: tuple[float, dict[str, Any]] | None = None  # (when, the cards), cached briefly
    totp_pending: dict[int, str] = field(default_factory=dict)  # user id -> the TOTP secret being enrolled
    model_jobs: JobBoard[Any] = field(default_factory=lambda: JobBoard(MODEL_JOBS_KEPT))
    backtests: JobBoard[Any] = field(default_factory=lambda: JobBoard(BACKTESTS_KEPT))
    model_tests: KeptTexts = field(default_factory=KeptTexts)
    _attach_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _responder_started: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        from netwarden.enrich.feed_fetch import FeedRefresher
        from netwarden.respond.responder import Responder

        self.responder = Responder.from_settings(self.db, self.settings)  # no thread until started
        self.watch_blocks(self.responder)
        self.feeds = FeedRefresher(self.settings.intel, on_change=self._reload_intel)

    def start(self) -> None:
        """Start the URL feeds' download schedule, if any feed is given by URL (the web app does at its start)."""
        if self.feeds.urls:
            self.feeds.start()

    def manual_responder(self) -> Responder:
        """Who blocks by hand: the pipeline's responder, or, when no pipeline responds (a web app on its own),
        the runtime's own, started here the first time (it reconciles the firewall and sweeps expired
        blocks, which a responding pipeline does instead)."""
        response = self.pipeline.response if self.pipeline is not None else None
        if response is not None:
            return response.responder
        with self._attach_lock:
            if not self._responder_started:
                self.responder.start()
                self._responder_started = True
        return self.responder

    def responders(self) -> list[Responder]:
        """The running responders, to reconfigure when the settings change."""
        response = self.pipeline.response if self.pipeline is not None else None
        found = [response.responder] if response is not None else []
        return found + [self.responder] if self._responder_started else found

    @property
    def engine(self) -> DetectionEngine | None:
        return self.pipeline.engine if self.pipeline is not None else None

    def build_pipeline(self) -> Pipeline:
        """The server's pipeline, with detection: its batches, alerts and blocks are pushed to browsers.
        (Its stages serialise detection: syslog, NetFlow and the intake call it from their own threads.)"""
        from netwarden.pipeline import Pipeline

        pipeline = Pipeline.from_settings(self.db, self.settings, observers=[self.on_events],
                                          alert_listeners=[self.on_alerts], sweep_gate=self.sweep_gate)
        self.pipeline = pipeline
        if pipeline.response is not None:
            self.watch_blocks(pipeline.response.responder)
        return pipeline

    def watch_blocks(self, responder: Responder) -> None:
        """Push the responder's block changes (blocked, unblocked, expired, failed) to browsers."""
        if self.on_block not in responder.listeners:
            responder.listeners.append(self.on_block)

    def intake_pipeline(self) -> Pipeline:
        """The pipeline for events sent to the API (built on first use when no server pipeline exists); with
        a [bus], the one that publishes them for the workers."""
        if self.intake is not None:
            return self.intake
        with self._attach_lock:  # two first requests at once must not build two engines
            return self.pipeline if self.pipeline is not None else self.build_pipeline()

    def on_events(self, batch: list[Event]) -> None:
        if not batch:
            return
        self.rate.add(len(batch))
        self.hub.publish("events", events_message(batch))

    def on_alerts(self, changes: list[tuple[Alert, bool]]) -> None:
        for alert, is_new in changes:
            self.hub.publish("alert", alert_message(alert, is_new))

    def on_block(self, block: Any, what: str) -> None:
        self.hub.publish("block", block_message(block, what))

    def _reload_intel(self) -> None:
        from netwarden.detect.intel import IntelDetector

        engine = self.engine
        for detector in engine.detectors if engine is not None else []:
            if isinstance(detector, IntelDetector):
                detector.index.reload()

    def close(self) -> None:
        self.feeds.stop()
        self.responder.close()
        if self.pipeline is not None:
            self.pipeline.close()

