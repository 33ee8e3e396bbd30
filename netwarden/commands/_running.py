"""Running a live source until Ctrl-C or SIGTERM: periodic status, then an orderly stop."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

from netwarden.cli import err, fail, safe


def run_until_stopped(*, status_every: float, status: Callable[[float], None], stop_source: Callable[[], None],
                      stream, pipeline, db, summary: Callable[[float], None]) -> None:  # type: ignore[no-untyped-def]
    """Wait for a signal, calling ``status(elapsed)`` every ``status_every`` seconds (0: never); then stop the
    source, store what is pending, save detector state, print ``summary(elapsed)``, and fail if storing did."""
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    try:
        while not stop.wait(status_every if status_every > 0 else 3600):
            if status_every > 0:
                status(time.monotonic() - started)
            if stream.last_error is not None:
                err.print(f"netwarden: storage error: {safe(stream.last_error)}")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
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
