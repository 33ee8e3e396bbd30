"""Following growing log files (``tail -F``) into the store, without losing or repeating a line.

A :class:`Follower` watches one or more paths — ``/var/log/nginx/access.log``, ``/var/log/auth.log`` —
and hands every *complete* line appended to them to a :class:`~netwarden.collect.sink.FileSink` (the
pipeline), with the position it takes the file to. It is used by ``netwarden follow`` and can run inside
a longer-lived service (``start()``/``stop()``, or ``run(stop_event)`` on a thread of one's own).

How it stays exact:

- **Position in the database, with the events.** Each batch of lines is stored in one transaction
  together with the ``ingest_sources`` bookkeeping that ``netwarden ingest`` uses (offset, hash of
  everything read, line count). A crash between batches loses nothing and repeats nothing: on restart
  the file is recognised by its content (hash of the first line, then hash of the prefix already read)
  and read on from the stored offset. ``ingest`` and ``follow`` of the same file share this, so they
  never store a line twice; the follower's update is conditional on the offset it started from, so a
  concurrent writer of the same source makes it re-synchronise instead of duplicating. With a ``[bus]`` the
  sink publishes instead, and advances the position once the bus has the lines (netwarden.bus.inputs).
- **Complete lines only.** A last line still being written (no newline yet) is left for the next
  poll; it is consumed only when finished — or when its file has been rotated away and stayed idle
  for ``rotate_grace`` seconds, since then nothing will ever complete it.
- **Rotation.** A rename (``access.log`` → ``access.log.1`` + a new ``access.log``) or a deletion is
  seen as a change of device/inode at the path: the old file, still open, is read to its end (the
  daemon may write to it until it reopens its log), then closed; the new file is followed from its
  first byte. A file that shrinks in place (``copytruncate``) is read again from its start; lines that
  reached the copy after our last read are taken from the copy (``PATH.1``, ``PATH.1.gz``,
  ``PATH-DATE``...) when its content proves it is the same stream. Lines written between
  logrotate's copy and its truncation are lost by copytruncate itself, for every reader.
- **Restart after a rotation.** On start, sources last seen under the followed path whose content
  is now found in a rotated copy beside it are finished first from that copy (plain or gzip), so
  lines appended before the rotation while NetWarden was down are not lost. Only copies whose
  content continues a stored source are read: old rotations never seen before are not imported
  (use ``netwarden ingest`` for those).
- **A path that does not exist yet** is waited for; so is a file whose first line is not complete.

Polling (default every 0.25 s: one ``stat`` and one ``fstat`` per file) keeps the CPU idle when
nothing happens and works on every filesystem, including network mounts where inotify does not.

The parts: this module runs the polls and reads (:class:`Follower`); ``watch.py`` tracks what is at each
path (rotation, truncation, the stats); ``handoff.py`` identifies a file against the store and hands its
lines to the sink with their position; ``tail.py`` is one open file's stored and read-ahead state and cuts
lines; ``rotated.py`` finds rotated copies.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from netwarden.collect.files import InputError, Line
from netwarden.collect.handoff import ErrorCallback, Handoff
from netwarden.collect.sink import FileSink
from netwarden.collect.tail import Tail
from netwarden.collect.watch import FileStats, FollowError, Watch
from netwarden.parse import UnknownFormat, get_parser

READ_CHUNK = 256 << 10
MAX_BYTES_PER_POLL = 8 << 20  # per file and poll, so one huge backlog does not starve the others
RETRY_SECONDS = 5.0  # after a read or database error


class Follower:
    """Follow ``paths`` into ``sink`` (a :class:`~netwarden.pipeline.Pipeline`).

    >>> follower = Follower(pipeline, ["/var/log/nginx/access.log"])   # doctest: +SKIP
    >>> follower.start(); ...; follower.stop()                          # doctest: +SKIP
    >>> follower.stats["/var/log/nginx/access.log"].events              # doctest: +SKIP
    """

    def __init__(self, sink: FileSink, paths: Sequence[str | Path], fmt: str = "auto", *,
                 poll_interval: float = 0.25, rotate_grace: float = 2.0, batch_size: int | None = None,
                 recover_rotated: bool = True, on_error: ErrorCallback | None = None) -> None:
        if fmt and fmt != "auto":
            get_parser(fmt)  # raises UnknownFormat now, not in the loop
        self.sink = sink
        self.fmt = fmt or "auto"
        self.poll_interval = poll_interval
        self.rotate_grace = rotate_grace
        self.batch_size = batch_size or min(sink.batch_size, 2000)
        self.on_error = on_error
        self.handoff = Handoff(sink, recover_rotated=recover_rotated, on_error=on_error)
        self._watches = [Watch(Path(p), self.fmt) for p in dict.fromkeys(str(p) for p in paths)]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one poll at a time

    # -- running ------------------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, FileStats]:
        return {str(w.path): w.stats for w in self._watches}

    def start(self) -> None:
        """Follow on a background thread until :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="netwarden-follow", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop after the current batch (each batch is stored whole or not at all) and close the files."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.close()

    def run(self, stop: threading.Event | None = None) -> None:
        """Poll until ``stop`` (or :meth:`stop`) is set."""
        stop_event = stop or self._stop
        try:
            while not stop_event.is_set() and not self._stop.is_set():
                busy = self.poll(stop_event)
                if not busy:
                    stop_event.wait(self.poll_interval)
        finally:
            if stop is not None:
                self.close()

    def close(self) -> None:
        with self._lock:
            for watch in self._watches:
                watch.close()

    def poll(self, stop: threading.Event | None = None) -> bool:
        """One round over every path; True if a backlog remains (poll again at once)."""
        busy = False
        with self._lock:
            for watch in self._watches:
                if (stop is not None and stop.is_set()) or self._stop.is_set():
                    break
                if time.monotonic() < watch.retry_at:
                    continue
                try:
                    busy |= self._poll_watch(watch)
                    if watch.stats.state != "error":
                        watch.stats.last_error = None
                except Exception as exc:  # one clear line per file; the others go on
                    self._failed(watch, exc)
        return busy

    # -- one path -----------------------------------------------------------------------------------

    def _poll_watch(self, watch: Watch) -> bool:
        if not watch.started:
            self.handoff.recover_at_start(watch)  # on a database error: again at the next attempt
            watch.started = True
        exists = watch.look(self.handoff.truncated)
        busy = False
        for tail in list(watch.draining):  # older content first
            more = self._drain(watch, tail)
            if not more and time.monotonic() - tail.last_growth >= self.rotate_grace:
                more = self._drain(watch, tail, final=True)  # nothing will complete its last line now
                if not more:
                    tail.close()
                    watch.draining.remove(tail)
            busy |= more
        current = watch.current
        if current is not None and current.failed is None:
            busy |= self._drain(watch, current)
        watch.update_state(exists)
        return busy

    def _failed(self, watch: Watch, exc: Exception) -> None:
        message = str(exc) if isinstance(exc, (InputError, FollowError, UnknownFormat)) \
            else f"{watch.path}: {type(exc).__name__}: {exc}"
        message = message.splitlines()[0] if message else type(exc).__name__
        if not message.startswith(str(watch.path)):
            message = f"{watch.path}: {message}"
        watch.stats.errors += 1
        watch.stats.state = "error"
        watch.retry_at = time.monotonic() + RETRY_SECONDS
        for tail in watch.tails():
            tail._reset_work()  # re-read from what is stored
        if message != watch.stats.last_error and self.on_error is not None:
            self.on_error(str(watch.path), message)
        watch.stats.last_error = message

    # -- reading ------------------------------------------------------------------------------------

    def _drain(self, watch: Watch, tail: Tail, final: bool = False) -> bool:
        """Store the complete lines available now; True if more is waiting (budget used up)."""
        if tail.failed is not None:
            return False
        if not tail.identified and not self.handoff.identify(watch, tail, final):
            return False
        budget = MAX_BYTES_PER_POLL
        ready: list[Line] = []
        more = False
        while True:
            data = os.pread(tail.fd, READ_CHUNK, tail.read_pos)
            if not data:
                break
            tail.read_pos += len(data)
            tail.last_growth = time.monotonic()
            tail.absorb(data, ready, self.sink.max_line_bytes)
            if len(ready) >= self.batch_size:
                if not self.handoff.flush(watch, tail, ready):
                    return True
                ready = []
            budget -= len(data)
            if budget <= 0 or self._stop.is_set():
                more = True
                break
        if final and not more:
            tail.finish_partial(ready, self.sink.max_line_bytes)
        if ready or (final and tail.source_id is not None):
            if not self.handoff.flush(watch, tail, ready, complete=final and not more):
                return True
        return more


__all__ = ["Follower", "FileStats", "FollowError"]
