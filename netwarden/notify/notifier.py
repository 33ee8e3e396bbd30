"""The notifier: collects notices, groups them into digests, and delivers them from a background thread.

Detection only calls ``submit`` (a queue put), so a slow mail server never holds up the pipeline. A
burst is gathered for ``first_delay`` seconds, then at most one message goes out per ``digest_seconds``
and ``max_per_hour`` per hour; notices that arrive meanwhile wait for the next digest, and beyond
``max_items`` they are only counted — an attack of a thousand alerts is a handful of messages.
Failed deliveries are logged and retried ``retries`` times with a doubling delay, then dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from netwarden.notify.channels import configured_channels
from netwarden.notify.notice import Notice, alert_notice, block_notice
from netwarden.notify.settings import NotifySettings
from netwarden.records import Alert, Severity

if TYPE_CHECKING:
    from netwarden.store.blocks import Block

log = logging.getLogger(__name__)
SEEN_LIMIT = 50_000


class Channel(Protocol):
    name: str

    def send(self, notices: list[Notice], omitted: int) -> None: ...


@dataclass
class NotifierStats:
    submitted: int = 0
    messages: int = 0  # digests delivered (per channel)
    failures: int = 0  # failed attempts
    dropped: int = 0  # digests given up on after the retries
    sent_notices: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


class Notifier:
    def __init__(self, settings: NotifySettings, channels: list[Channel] | None = None) -> None:
        self.settings = settings
        self.channels: list[Channel] = channels if channels is not None else self._channels(settings)
        self.min_rank = Severity(settings.min_severity).rank
        self.stats = NotifierStats()
        self._queue: queue.Queue[Notice | None] = queue.Queue()
        self._notified: OrderedDict[int, int] = OrderedDict()  # alert id → severity rank told
        self._pending: list[Notice] = []
        self._omitted = 0
        self._sent_at: deque[float] = deque()  # monotonic times of the last hour's messages
        self._due: float | None = None
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="netwarden-notify", daemon=True)
        self._thread.start()

    @staticmethod
    def _channels(settings: NotifySettings) -> list[Channel]:
        return configured_channels(settings)

    def reconfigure(self, settings: NotifySettings) -> None:
        """New settings while running (the web app): the next digest goes to the new channels."""
        self.channels = self._channels(settings)  # one assignment: the sending thread sees old or new
        self.min_rank = Severity(settings.min_severity).rank
        self.settings = settings

    # -- listeners (called by detection and the responder: must return at once) --------------------

    def on_alert(self, alert: Alert, is_new: bool) -> None:
        rank = alert.severity.rank
        if rank < self.min_rank or alert.history:
            return  # history (old events imported): nothing to act on now
        told = self._notified.get(alert.id) if alert.id is not None else None
        if told is not None and rank <= told:
            return  # an update of an alert already told about
        if alert.id is not None:
            self._notified[alert.id] = rank
            if len(self._notified) > SEEN_LIMIT:
                self._notified.popitem(last=False)
        self.submit(alert_notice(alert, escalated=told is not None))

    def on_block(self, block: Block, what: str) -> None:
        if self.settings.blocks and what in ("blocked", "failed"):
            self.submit(block_notice(block, what))

    def submit(self, notice: Notice) -> None:
        self.stats.submitted += 1
        self._queue.put(notice)

    # -- the background thread ----------------------------------------------------------------------

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything submitted so far has been sent or given up on (ignores the digest
        timing: what is pending goes out now). For tests and shutdown."""
        self._queue.put(None)  # a marker: "send what is pending now"
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._queue.unfinished_tasks or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = None if self._due is None else max(0.0, self._due - time.monotonic())
            item: Notice | str | None
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = "tick"
            try:
                with self._idle:
                    self._busy = True
                if isinstance(item, Notice):
                    self._add(item)
                now = time.monotonic()
                due = item is None or (self._due is not None and now >= self._due)
                if (self._pending or self._omitted) and due:
                    self._deliver(force=item is None)
            finally:
                if item != "tick":
                    self._queue.task_done()
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()

    def _add(self, notice: Notice) -> None:
        if len(self._pending) < self.settings.max_items:
            self._pending.append(notice)
        else:
            self._omitted += 1
        if self._due is None:
            now = time.monotonic()
            self._due = max(now + self.settings.first_delay, self._next_allowed(now))

    def _next_allowed(self, now: float) -> float:
        while self._sent_at and now - self._sent_at[0] > 3600:
            self._sent_at.popleft()
        allowed = self._sent_at[-1] + self.settings.digest_seconds if self._sent_at else now
        if len(self._sent_at) >= self.settings.max_per_hour:
            allowed = max(allowed, self._sent_at[0] + 3600)
        return allowed

    def _deliver(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and self._next_allowed(now) > now:
            self._due = self._next_allowed(now)
            return
        notices, omitted = self._pending, self._omitted
        self._pending, self._omitted, self._due = [], 0, None
        self._sent_at.append(now)
        for channel in self.channels:
            self._send_with_retries(channel, notices, omitted)

    def _send_with_retries(self, channel: Channel, notices: list[Notice], omitted: int) -> None:
        delay = self.settings.retry_delay
        for attempt in range(self.settings.retries + 1):
            try:
                channel.send(notices, omitted)
            except Exception as exc:  # noqa: BLE001 -- DeliveryError, OSError or a bug: never the end of the thread
                self.stats.failures += 1
                log.warning("notification to %s failed (attempt %d of %d): %s", channel.name, attempt + 1,
                            self.settings.retries + 1, exc)
                if attempt < self.settings.retries and not self._stop.wait(delay):
                    delay *= 2
                    continue
                self.stats.dropped += 1
                log.error("notification to %s given up after %d attempts (%d notices)", channel.name,
                          attempt + 1, len(notices) + omitted)
                return
            self.stats.messages += 1
            self.stats.sent_notices += len(notices) + omitted
            self.stats.by_channel[channel.name] = self.stats.by_channel.get(channel.name, 0) + 1
            return
