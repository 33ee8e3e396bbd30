"""Running until Ctrl-C or SIGTERM: the signals caught for the while, and a live source's periodic status
and orderly stop."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from netwarden.commands.shared.terminal import err, fail, safe

if TYPE_CHECKING:
    from netwarden.pipeline import LiveStream, Pipeline
    from netwarden.store.database import Database


@contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event that Ctrl-C (SIGINT) or SIGTERM sets while inside; the previous handlers are back after."""
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_until_stopped(*, status_every: float, status: Callable[[float], None], stop_source: Callable[[], None],
                      stream: LiveStream, pipeline: Pipeline, db: Database,
                      summary: Callable[[float], None]) -> None:
    """Wait for a signal, calling ``status(elapsed)`` every ``status_every`` seconds (0: never); then stop the
    source, store what is pending, save detector state, print ``summary(elapsed)``, and fail if storing did."""
    started = time.monotonic()
    try:
        with stop_signals() as stop:
            while not stop.wait(status_every if status_every > 0 else 3600):
                if status_every > 0:
                    status(time.monotonic() - started)
                if stream.last_error is not None:
                    err.print(f"netwarden: storage error: {safe(stream.last_error)}")
    finally:
        stop_source()
        error = None
        try:
            stream.close()
        except Exception as exc:  # reported, with the counters still printed
            error = exc
        pipeline.close()  # saves detector state for the next start
        db.close()
        summary(time.monotonic() - started)
        if error is not None:
            fail(f"storing failed: {error}")
