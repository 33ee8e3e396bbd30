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
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_module
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from netwarden.collect.files import SNIFF_LINES, InputError, Line, decode
from netwarden.collect.rotated import continues, rotated_copies
from netwarden.collect.sink import Counts, FileSink
from netwarden.collect.tail import FIRST_LINE_LIMIT, Tail, first_line_changed, hash_fd
from netwarden.parse import ParseContext, UnknownFormat, get_parser, guess_format
from netwarden.store import sources as source_store
from netwarden.store.sources import Position, SourceConflict

READ_CHUNK = 256 << 10
MAX_BYTES_PER_POLL = 8 << 20  # per file and poll, so one huge backlog does not starve the others
RETRY_SECONDS = 5.0  # after a read or database error

ErrorCallback = Callable[[str, str], None]  # (path, message)


class FollowError(Exception):
    """A file that cannot be followed as it is (unrecognisable format, not a regular file ...)."""


@dataclass
class FileStats:
    """What one followed path gave so far; ``netwarden follow`` prints these."""

    path: str
    format: str | None = None
    state: str = "starting"  # waiting, following, recognising, error
    lines: int = 0
    events: int = 0
    skipped: int = 0
    quarantined: Counter = field(default_factory=Counter)
    bad_utf8: int = 0
    resumed_at_line: int = 0  # of the first file identified: lines stored by an earlier run
    rotations: int = 0  # renamed or deleted and replaced
    truncations: int = 0  # copytruncate
    recovered_lines: int = 0  # read from rotated copies (after a restart or a copytruncate)
    recovered_events: int = 0
    last_error: str | None = None
    errors: int = 0
    last_line_at: float | None = None

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def add(self, result: Counts) -> None:
        self.lines += result.lines
        self.events += result.events
        self.skipped += result.skipped
        self.quarantined.update(result.quarantined)
        self.bad_utf8 += result.bad_utf8


class _Watch:
    """One followed path: the current file there, and rotated-away files still being finished."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self.current: Tail | None = None
        self.draining: list[Tail] = []
        self.stats = FileStats(str(path))
        self.retry_at = 0.0
        self.started = False
        self.reported_missing = False


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
        self.db = sink.db
        self.fmt = fmt or "auto"
        self.poll_interval = poll_interval
        self.rotate_grace = rotate_grace
        self.batch_size = batch_size or min(sink.batch_size, 2000)
        self.recover_rotated = recover_rotated
        self.on_error = on_error
        self._watches = [_Watch(Path(p), self.fmt) for p in dict.fromkeys(str(p) for p in paths)]
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
                for tail in [watch.current, *watch.draining]:
                    if tail is not None:
                        tail.close()
                watch.current = None
                watch.draining = []

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

    def _poll_watch(self, watch: _Watch) -> bool:
        if not watch.started:
            if self.recover_rotated:
                self._recover_at_start(watch)  # on a database error: again at the next attempt
            watch.started = True
        try:
            st: os.stat_result | None = os.stat(watch.path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise InputError(f"{watch.path}: cannot read: {exc.strerror or exc}") from None
        current = watch.current
        if current is not None:
            size = os.fstat(current.fd).st_size
            if size < current.read_pos or size < current.offset or (
                    size > current.read_pos and current.identified and first_line_changed(current)):
                self._truncated(watch, current)
            if st is None or (st.st_dev, st.st_ino) != (current.dev, current.ino):
                watch.stats.rotations += 1
                current.draining_since = time.monotonic()
                current.last_growth = time.monotonic()
                watch.draining.append(current)
                watch.current = current = None
        if current is None and st is not None:
            if not stat_module.S_ISREG(st.st_mode):
                raise FollowError(f"{watch.path}: not a regular file")
            try:
                fh = open(watch.path, "rb", buffering=0)  # noqa: SIM115 - closed in Tail.close()
                opened = os.fstat(fh.fileno())
            except FileNotFoundError:  # gone between stat and open: next poll
                opened = None
            except OSError as exc:
                raise InputError(f"{watch.path}: cannot read: {exc.strerror or exc}") from None
            if opened is not None:
                if fh.read(2) == b"\x1f\x8b":
                    fh.close()
                    raise FollowError(f"{watch.path}: gzip-compressed; follow reads growing plain-text logs "
                                      "(use `netwarden ingest` for .gz files)")
                watch.current = current = Tail(watch.path, fh, opened)
                watch.reported_missing = False
        busy = False
        for tail in list(watch.draining):  # older content first
            more = self._drain(watch, tail)
            if not more and time.monotonic() - tail.last_growth >= self.rotate_grace:
                more = self._drain(watch, tail, final=True)  # nothing will complete its last line now
                if not more:
                    tail.close()
                    watch.draining.remove(tail)
            busy |= more
        if current is not None:
            if current.failed is None:
                busy |= self._drain(watch, current)
        if current is None and st is None:
            watch.stats.state = "waiting"
        elif current is not None and current.failed:
            watch.stats.state = "error"
        elif current is not None and not current.identified:
            watch.stats.state = "waiting" if current.w_offset == 0 and not current.buf else "recognising"
        else:
            watch.stats.state = "following"
        return busy

    def _truncated(self, watch: _Watch, tail: Tail) -> None:
        """copytruncate: finish the stream from the copy if it is there, then read the file anew."""
        watch.stats.truncations += 1
        if tail.source_id is not None and self.recover_rotated:
            with self.db.engine.connect() as conn:
                row = source_store.get(conn, tail.source_id)
            if row is not None:
                self._recover_from_copies(watch, [row])
        tail.restart_from_zero()
        tail.failed = None

    def _failed(self, watch: _Watch, exc: Exception) -> None:
        message = str(exc) if isinstance(exc, (InputError, FollowError, UnknownFormat)) \
            else f"{watch.path}: {type(exc).__name__}: {exc}"
        message = message.splitlines()[0] if message else type(exc).__name__
        if not message.startswith(str(watch.path)):
            message = f"{watch.path}: {message}"
        watch.stats.errors += 1
        watch.stats.state = "error"
        watch.retry_at = time.monotonic() + RETRY_SECONDS
        for tail in [watch.current, *watch.draining]:
            if tail is not None:
                tail._reset_work()  # re-read from what is stored
        if message != watch.stats.last_error and self.on_error is not None:
            self.on_error(str(watch.path), message)
        watch.stats.last_error = message

    # -- reading ------------------------------------------------------------------------------------

    def _drain(self, watch: _Watch, tail: Tail, final: bool = False) -> bool:
        """Store the complete lines available now; True if more is waiting (budget used up)."""
        if tail.failed is not None:
            return False
        if not tail.identified and not self._identify(watch, tail, final):
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
                if not self._flush(watch, tail, ready):
                    return True
                ready = []
            budget -= len(data)
            if budget <= 0 or self._stop.is_set():
                more = True
                break
        if final and not more:
            tail.finish_partial(ready, self.sink.max_line_bytes)
        if ready or (final and tail.source_id is not None):
            if not self._flush(watch, tail, ready, complete=final and not more):
                return True
        return more

    # -- identifying a file -------------------------------------------------------------------------

    def _identify(self, watch: _Watch, tail: Tail, final: bool) -> bool:
        """Find where an earlier run stopped in this content, and the parser; False to wait."""
        head = os.pread(tail.fd, FIRST_LINE_LIMIT, 0)
        cut = head.find(b"\n")
        if cut >= 0:
            first = head[:cut + 1]
        elif len(head) >= FIRST_LINE_LIMIT or (final and head):
            first = head
        else:
            return False  # empty, or the first line is not complete yet
        tail.first_sha = hashlib.sha256(first).hexdigest()
        with self.db.engine.connect() as conn:
            earlier = source_store.candidates(conn, tail.first_sha)
        found = None
        for row in earlier:
            digest, got = hash_fd(tail.fd, row["offset"])
            if got == row["offset"] and digest.hexdigest() == row["prefix_sha"]:
                found = row, digest
                break
        if found is None and watch.fmt == "auto":
            fmt = self._guess(tail, final)
            if fmt is None:
                return False
        elif watch.fmt != "auto":
            fmt = watch.fmt
        else:
            assert found is not None  # the branch above handles "auto" without a stored source
            fmt = found[0]["format"]
        parser_cls = get_parser(fmt)
        tail.format = parser_cls.name
        tail.parser = parser_cls(ParseContext(source=str(tail.path), reference_time=datetime.now(timezone.utc),
                                              local_tz=self.sink.local_tz))
        if found is not None:
            row, digest = found
            tail.source_id = row["id"]
            tail.offset, tail.lines, tail.digest = row["offset"], row["lines"], digest
            if watch.stats.resumed_at_line == 0 and watch.stats.lines == 0:
                watch.stats.resumed_at_line = row["lines"]
        tail._reset_work()
        tail.identified = True
        watch.stats.format = tail.format
        return True

    def _guess(self, tail: Tail, final: bool) -> str | None:
        data = os.pread(tail.fd, 1 << 16, 0)
        complete = data.split(b"\n")
        if not final:
            complete = complete[:-1]  # the last piece is unfinished (or empty)
        sample = [decode(raw.rstrip(b"\r"))[0] for raw in complete[:SNIFF_LINES]]
        try:
            return guess_format(sample).name
        except UnknownFormat as exc:
            if len(sample) >= SNIFF_LINES or final or len(data) >= 1 << 16:
                tail.failed = f"{tail.path}: {exc}"
                raise FollowError(tail.failed) from None
            return None  # perhaps with more lines

    # -- storing ------------------------------------------------------------------------------------

    def _flush(self, watch: _Watch, tail: Tail, ready: list[Line], complete: bool = False) -> bool:
        """Store ``ready`` and the new position in one transaction, then advance; reset on failure.

        False if another reader had advanced the same source: the file is then identified again.
        """
        try:
            if tail.source_id is None:
                with self.db.engine.begin() as conn:
                    tail.source_id = source_store.create(
                        conn, kind="file", name=str(tail.path), fmt=tail.format or "?",
                        first_line_sha=tail.first_sha, prefix_sha=tail.digest.hexdigest())
            assert tail.parser is not None and tail.format is not None
            result = self.sink.store_lines(tail.parser, ready, source=str(watch.path), fmt=tail.format,
                                           source_id=tail.source_id, position=Position(
                                               tail.w_offset, tail.w_digest.hexdigest(), tail.w_lines,
                                               complete=complete, expected_offset=tail.offset))
        except SourceConflict:
            # another reader stored part of this stream: start over from what the store says
            tail.restart_from_zero()
            return False
        except Exception:
            tail._reset_work()
            raise
        tail.offset, tail.lines, tail.digest = tail.w_offset, tail.w_lines, tail.w_digest.copy()
        watch.stats.add(result)
        if ready:
            watch.stats.last_line_at = time.time()
        return True

    # -- rotated copies -------------------------------------------------------------------------------

    def _recover_at_start(self, watch: _Watch) -> None:
        """Finish streams last seen at this path from their rotated copies (rotation while we were down)."""
        with self.db.engine.connect() as conn:
            rows = source_store.last_read_as(conn, "file", str(watch.path))
        if rows:
            self._recover_from_copies(watch, rows)

    def _recover_from_copies(self, watch: _Watch, rows: list[dict[str, Any]]) -> None:
        for candidate in rotated_copies(watch.path):
            for row in rows:
                try:
                    if not continues(candidate, row):
                        continue
                    result = self.sink.ingest_file(candidate, row["format"])
                except (InputError, UnknownFormat) as exc:
                    if self.on_error is not None:
                        self.on_error(str(watch.path), f"{candidate}: {exc}")
                    continue
                watch.stats.recovered_lines += result.lines
                watch.stats.recovered_events += result.events
                watch.stats.quarantined.update(result.quarantined)
                break


__all__ = ["Follower", "FileStats", "FollowError"]
