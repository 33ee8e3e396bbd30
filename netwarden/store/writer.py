"""Writing batches to the store while the caller parses the next ones.

A :class:`StoreBatch` is plain data (row tuples, rollup buckets, quarantined rows, how far the input
was read), stored in one transaction so that events, rollups and bookkeeping never disagree.

Three writers with one interface (:class:`BatchWriter`: ``submit`` a batch, ``close`` to wait for the rest):

- :class:`DirectWriter` runs each transaction at once in the caller's thread (``netwarden follow``: the
  position it advances must be stored before it reads on).
- :class:`ThreadWriter` runs the transactions on a thread: no start-up cost, but the interpreter lock
  lets little of the work overlap. Used for small inputs and in-memory databases.
- :class:`ProcessWriter` runs them in a separate process with its own connection, so parsing and
  inserting use both cores. Used for large files.

Both keep order, bound their queue (back-pressure, flat memory), and raise a writer's error in the
caller at its next call, never losing it.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Connection

from netwarden import metrics
from netwarden.store import quarantine as quarantine_store
from netwarden.store import rollups as rollup_store
from netwarden.store.heap import keep_freed_memory
from netwarden.store import sources as source_store
from netwarden.store import write_turns
from netwarden.store.database import Database
from netwarden.store.events import EventWriter

_STOP = None
PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL = 1.0  # seconds between checks that the parent still lives, when no batch arrives


@dataclass
class StoreBatch:
    rows: list[tuple] = field(default_factory=list)  # EventWriter.rows() output
    buckets: dict[tuple, list[int]] | None = None  # None: counted from the rows by the writer
    quarantine_rows: list[dict[str, Any]] = field(default_factory=list)
    source_id: int | None = None
    source: str = "-"
    position: source_store.Position | None = None  # how far the input was read, with this batch
    # or the events as events.event_columns() and their line numbers, made rows by the writer (see
    # ProcessWriter.makes_rows); rows is then empty until write_batch
    columns: list[list] | None = None
    line_numbers: list[int | None] | None = None
    # rows stored ahead of their position (a file import's part, stored while detection looks at it; a later
    # batch carries the position): the input's lines whose events are stored with this batch
    stored_lines: int | None = None


class BatchWriter(Protocol):
    """Where a pipeline hands its batches: each is stored in one transaction, in the order submitted."""

    def submit(self, batch: StoreBatch) -> None: ...

    def close(self) -> None: ...


def batch_buckets(batch: StoreBatch) -> dict[tuple, list[int]]:
    """The batch's rollup counts (counted from its rows when the sender left that to the writer)."""
    return batch.buckets if batch.buckets is not None else rollup_store.rollup_counts_from_rows(batch.rows)


def prepare_batch(writer: EventWriter, batch: StoreBatch) -> list[Sequence] | None:
    """The work of storing ``batch`` that needs no connection: its rows (from its columns, if it came as
    columns) and rollup counts. Returns the rows' values column by column, if made here (for
    :meth:`EventWriter.insert`). Leaves ``batch`` ready for :func:`write_prepared`."""
    by_column = None
    if batch.columns is not None:
        batch.rows, by_column = writer.rows_and_columns(batch.columns, batch.source_id, batch.line_numbers or [],
                                                        narrow=True)
        batch.columns = batch.line_numbers = None
    if by_column is not None and batch.buckets is None:  # narrow rows (see rows_and_columns): counted by column
        batch.buckets = rollup_store.rollup_counts_from_columns(by_column)
    else:
        batch.buckets = batch_buckets(batch)
    return by_column


def write_prepared(conn: Connection, writer: EventWriter, batch: StoreBatch,
                   by_column: list[Sequence] | None = None) -> None:
    """Store a batch made ready by :func:`prepare_batch` in the transaction of ``conn``."""
    writer.insert(conn, batch.rows, by_column)
    rollup_store.add_buckets(conn, batch_buckets(batch))
    quarantine_store.insert_quarantine(conn, batch.quarantine_rows)
    if batch.source_id is not None and (batch.position is not None or batch.stored_lines is not None):
        source_store.advance(conn, batch.source_id, batch.position, name=batch.source, events=len(batch.rows),
                             quarantined=len(batch.quarantine_rows), stored_lines=batch.stored_lines)


def write_batch(conn: Connection, writer: EventWriter, batch: StoreBatch) -> None:
    write_prepared(conn, writer, batch, prepare_batch(writer, batch))


class DirectWriter:
    """Stores each batch before ``submit`` returns, in the caller's thread; its errors (a
    :class:`~netwarden.store.sources.SourceConflict`) are raised there, with the batch rolled back."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._events = EventWriter(db.engine.dialect)

    def submit(self, batch: StoreBatch) -> None:
        started = time.perf_counter()
        with self.db.engine.begin() as conn:
            write_batch(conn, self._events, batch)
        metrics.committed(batch.source, events=len(batch.rows), quarantined=len(batch.quarantine_rows),
                          seconds=time.perf_counter() - started)

    def close(self) -> None:
        pass


class ThreadWriter:
    def __init__(self, db: Database, depth: int = 2) -> None:
        self.db = db
        self._events = EventWriter(db.engine.dialect)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        # separate from _error, which is cleared once raised: batches still queued after a failure were
        # then written, skipping the failed one, and their bookkeeping moved the resume point past a gap
        self._failed = False
        self._thread = threading.Thread(target=self._run, name="netwarden-writer", daemon=True)
        self._thread.start()

    def submit(self, batch: StoreBatch) -> None:
        """Queue one batch; blocks while the queue is full."""
        self._raise_pending()
        self._queue.put(batch)

    def close(self) -> None:
        """Wait until everything queued is stored; raise the writer's error if there was one."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._raise_pending()

    def __enter__(self) -> ThreadWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _close_quietly_if_failing(self, exc_type)

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is _STOP:
                return
            if self._failed:
                continue  # after a failure, write nothing more: later batches must not skip ahead
            try:
                started = time.perf_counter()
                with self.db.engine.begin() as conn:
                    write_batch(conn, self._events, batch)
                metrics.committed(batch.source, events=len(batch.rows), quarantined=len(batch.quarantine_rows),
                                  seconds=time.perf_counter() - started)
            except BaseException as exc:  # handed to the caller
                self._failed = True
                self._error = exc


@dataclass
class _Committed:
    """The writer process committed a batch: for the metrics, which the parent process serves."""

    source: str
    events: int
    quarantined: int
    seconds: float

    def count(self) -> None:
        metrics.committed(self.source, events=self.events, quarantined=self.quarantined, seconds=self.seconds)


class WriterProcessError(RuntimeError):
    """The writer process failed; the message carries its error."""


def _die_with(parent: int, whole_process: bool) -> None:
    """Ask Linux to end this process when its parent dies (prctl PR_SET_PDEATHSIG). The signal follows the
    parent *thread*, so only when the main thread started us; ``_process_main`` also polls the parent's pid."""
    if whole_process and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(0)


@dataclass
class _Failed:
    """A batch that could not be received or made ready in the writer process: its error, in its place in line."""

    message: str
    inbox_broken: bool = False  # the inbox itself failed: nothing more is read from it


_PARENT_GONE = "parent gone"
_NOTHING = "nothing"  # (_STOP is None)


def _prepare_ahead(inbox: mp.Queue, writer: EventWriter, ready: queue.Queue, parent: int | None,
                   failed: threading.Event) -> None:
    """The writer process's second thread: receives each batch and makes its rows while the main thread stores
    the one before. The database server would idle while the writer unpickles a batch and makes its rows; the
    main thread waits on the socket with the interpreter lock released, so both go on at once.

    Hands on each item in the order received (a batch with its values by column, a :class:`_Failed`, ``_STOP``
    or ``_PARENT_GONE``) and fetches the next only once the main thread has taken it: one batch made ahead, no
    more (memory stays bounded as before)."""
    while True:
        item = _next_ready(inbox, writer, parent, failed)
        if item is _NOTHING:
            continue
        if isinstance(item, _Failed):
            failed.set()
        ready.put(item)
        ready.join()  # until the main thread has taken it
        if item is _STOP or item is _PARENT_GONE:
            return
        if isinstance(item, _Failed) and item.inbox_broken:
            ready.put(_STOP)  # the process ends (the parent's next call raises the failure)
            return


def _next_ready(inbox: mp.Queue, writer: EventWriter, parent: int | None, failed: threading.Event,
                timeout: float = PARENT_POLL) -> Any:
    """The next item for the main thread (see :func:`_prepare_ahead`), _NOTHING if none came within ``timeout``."""
    try:
        batch = inbox.get(timeout=timeout)
    except queue.Empty:
        batch = _NOTHING
    except BaseException as exc:  # a batch that cannot be unpickled, a broken pipe: its failure, in its place
        return _Failed(f"{type(exc).__name__}: {exc}", inbox_broken=True)
    if parent is not None and os.getppid() != parent:
        return _PARENT_GONE
    if batch is _NOTHING or batch is _STOP:
        return batch
    if failed.is_set():  # nothing after a failure is written: no work to make it ready
        return (batch, None)
    try:
        return (batch, prepare_batch(writer, batch))
    except BaseException as exc:
        return _Failed(f"{type(exc).__name__}: {exc}")


def _made_ahead(inbox: mp.Queue, writer: EventWriter, parent: int | None,
                failed: threading.Event) -> Callable[[], Any]:
    """The items of the inbox, each batch's rows made by a second thread while the one before is stored: for a
    database server, which works in its own process while this one waits on the socket."""
    ready: queue.Queue = queue.Queue(maxsize=1)
    threading.Thread(target=_prepare_ahead, args=(inbox, writer, ready, parent, failed),
                     name="netwarden-writer-prepare", daemon=True).start()

    def take() -> Any:
        item = ready.get()
        ready.task_done()
        return item
    return take


def _made_in_turn(inbox: mp.Queue, writer: EventWriter, parent: int | None,
                  failed: threading.Event) -> Callable[[], Any]:
    """The same items, each batch's rows made when it is taken: SQLite writes in this process, holding the
    interpreter lock between its calls, and a second thread competing for it made SSH imports 3-4 % slower
    (bench_ssh, 500k lines, alternated)."""
    broken = False

    def take(timeout: float | None = None) -> Any:
        """The next item; with a ``timeout``, _NOTHING if none came within it."""
        nonlocal broken
        if broken:  # the inbox failed: nothing more is read from it
            return _STOP
        if timeout is not None:
            item = _next_ready(inbox, writer, parent, failed, timeout)
        else:
            while (item := _next_ready(inbox, writer, parent, failed)) is _NOTHING:
                pass
        if isinstance(item, _Failed):
            failed.set()
            broken = item.inbox_broken
        return item
    return take


@dataclass
class _Started:
    """The writer process opened the database: from now on its failures come as messages."""


def _process_main(url: str, inbox: mp.Queue, outbox: mp.Queue, checkpoint_pages: int | None = None,
                  parent: int | None = None, main_thread: bool = False, turn: Any = None) -> None:
    # Ctrl-C reaches the whole process group: the parent decides (close() stores what is queued, a failing
    # import ends this process); an interrupt here would drop batches behind the parent's back
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        _die_with(parent, main_thread)
    gc.set_threshold(100_000, 50, 100)  # rows are tuples of plain values: no cycles to look for often
    keep_freed_memory()  # each batch's large blocks reused, not faulted in again (as in the parsing process)
    try:
        db = Database.open(url, migrate=False)
        if db.dialect == "sqlite" and checkpoint_pages:
            _checkpoint_every(db, checkpoint_pages)
        writer = EventWriter(db.engine.dialect)
        with db.engine.connect():  # it connects on first use: a refused connection is a failure to start
            pass
    except BaseException as exc:  # its cause, for the parent's error (else only an exit code)
        outbox.put(f"the writer process could not open the database: {type(exc).__name__}: {exc}")
        outbox.put(_STOP)
        return
    outbox.put(_Started())
    failed = threading.Event()  # a batch failed: no more rows are made
    take = _made_ahead(inbox, writer, parent, failed) if db.dialect != "sqlite" else \
        _made_in_turn(inbox, writer, parent, failed)
    stopped = False  # after a failure nothing more is written: later batches must not skip ahead of a gap
    after: Any = _NOTHING  # an item taken while a transaction was open, for the next turn of the loop
    unchecked = 0  # rows committed since this process last checkpointed SQLite's WAL while idle
    try:
        while True:
            if after is not _NOTHING:
                item, after = after, _NOTHING
            elif unchecked >= IDLE_CHECKPOINT_ROWS and turn is not None and not stopped:  # (a file import into
                item = take(IDLE_CHECKPOINT_WAIT)  # SQLite: its take() has a timeout)
                if item is _NOTHING:
                    _checkpoint_now(db)
                    unchecked = 0
                    item = take()
            else:
                item = take()
            if item is _PARENT_GONE:
                # the parent was killed: what it queued stays unwritten, and so does its bookkeeping (a
                # batch and its resume point commit together), so a rerun reads those lines again
                os._exit(0)
            if item is _STOP:
                break
            if stopped:
                continue
            if isinstance(item, _Failed):  # a batch that could not be made ready, reported after those before it
                stopped = True
                outbox.put(item.message)
                continue
            batch, by_column = item
            try:
                started = time.perf_counter()
                written = [batch]
                with db.engine.begin() as conn:
                    if turn is None:
                        write_prepared(conn, writer, batch, by_column)
                    else:
                        _wait_turn(conn, turn)
                        after = _write_parts(conn, writer, take, turn, written, by_column)
                unchecked += sum(len(batch.rows) for batch in written)
                # the parent keeps the metrics: it is the process Prometheus scrapes
                for batch in written:
                    outbox.put(_Committed(batch.source, len(batch.rows), len(batch.quarantine_rows),
                                          time.perf_counter() - started))
            except Exception as exc:
                stopped = True
                failed.set()
                outbox.put(f"{type(exc).__name__}: {exc}")
    except BaseException as exc:  # (SystemExit...) what is queued is not stored: the parent must not end quietly
        outbox.put(f"the writer process stopped: {type(exc).__name__}: {exc}")
        raise
    finally:
        db.close()
        outbox.put(_STOP)
    # all said (the queue's thread has flushed it) and the database closed: the interpreter's teardown, which
    # frees every module and object one by one (~0.1 s the parent waits in join), is skipped
    outbox.close()
    outbox.join_thread()
    os._exit(0)


#: rows at most in one transaction of the writer process that takes parts of batches (FILE_IMPORT_PARTS): as many
#: as a whole batch's (pipeline.core.BATCH_SIZE), so that nobody waiting it commits as often as before
TRANSACTION_ROWS = 20_000
#: seconds the writer process waits for a batch's next part with its transaction open, before it commits
NEXT_PART_WAIT = 0.05
TURN_POLL = 0.001  # seconds between looks at the shared flag


def _wait_turn(conn: Connection, turn: Any) -> None:
    """Before the writer process's transaction: let the parsing process write first if it is waiting (the flag
    goes down once it holds the lock), then take the lock (``lock_for_writing``: until its commit)."""
    from netwarden.store.alerts import lock_for_writing

    deadline = time.monotonic() + 1.0  # a flag left up (the parent died while waiting) must not stop the writer
    while turn.value and time.monotonic() < deadline:
        time.sleep(TURN_POLL)
    lock_for_writing(conn)


def _write_parts(conn: Connection, writer: EventWriter, take: Callable[..., Any], turn: Any,
                 written: list[StoreBatch], by_column: list[Sequence] | None) -> Any:
    """Store ``written[0]`` and the next parts handed over in the open transaction while the parsing process does
    not wait for the lock, up to TRANSACTION_ROWS rows; ``written`` gets the parts stored. Their rollups are
    added and their input advanced to the last one's position once, at the end: all commit together. Returns
    an item taken that is not a part of this input (or _NOTHING): the caller handles it after the commit."""
    first = written[0]
    buckets: dict[tuple, list[int]] = {}
    batch, events, quarantined, after = first, 0, 0, _NOTHING
    position, stored = None, None  # the last parts' (a part stored ahead has none; its position comes later)
    while True:
        position = batch.position or position
        stored = batch.stored_lines if batch.stored_lines is not None else stored
        writer.insert(conn, batch.rows, by_column)
        quarantine_store.insert_quarantine(conn, batch.quarantine_rows)
        for key, (n, size) in batch_buckets(batch).items():
            if (bucket := buckets.get(key)) is None:
                buckets[key] = [n, size]
            else:
                bucket[0] += n
                bucket[1] += size
        events += len(batch.rows)
        quarantined += len(batch.quarantine_rows)
        if events >= TRANSACTION_ROWS or turn.value:
            break
        waited = 0.0
        while (item := take(TURN_POLL)) is _NOTHING and not turn.value and waited < NEXT_PART_WAIT:
            waited += TURN_POLL
        if item is _NOTHING:
            break
        if not isinstance(item, tuple) or item[0].source_id != first.source_id:  # _STOP, _Failed...: after it
            after = item
            break
        batch, by_column = item
        written.append(batch)
    rollup_store.add_buckets(conn, buckets)
    if first.source_id is not None and (position is not None or stored is not None):
        source_store.advance(conn, first.source_id, position, name=batch.source, events=events,
                             quarantined=quarantined, stored_lines=stored)
    return after


#: WAL pages between checkpoints when importing a file (16 KiB each: 160 MiB). SQLite's default, 1,000, copies
#: the hot index pages back into the database ten times as often, each time with an fsync: measured A/B on the
#: 1M-line access log, 1,000 -> 10,000 took ingest from 42-45k to 49-51k events/s (20,000 or 40,000 gained
#: nothing more). Only for file imports: with synchronous=NORMAL a power cut may undo what was committed since
#: the last checkpoint, and an import resumes from its bookkeeping (undone with it), a live stream could not.
FILE_IMPORT_CHECKPOINT_PAGES = 10_000


#: seconds without a batch after which the writer process of a file import into SQLite checkpoints the WAL: the
#: parsing process is busy (detection), and what this process copies back now, on its idle core, the next commit
#: with SQLite's default threshold (the engine's, once the import is done) would copy on the critical path
IDLE_CHECKPOINT_WAIT = 0.05
#: ... once it has committed this many rows since the last time: about as often as FILE_IMPORT_CHECKPOINT_PAGES
#: would (each checkpoint copies pages back and syncs the file), not after every batch of a slow parser
IDLE_CHECKPOINT_ROWS = 100_000


def _checkpoint_now(db: Database) -> None:
    """A passive checkpoint: what it can copy without waiting for anyone (a failure only leaves it for later)."""
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except Exception:  # noqa: BLE001 -- the next commit past the threshold checkpoints anyway
        pass


def _checkpoint_every(db: Database, pages: int) -> None:
    """Every connection of this (writer) process checkpoints every ``pages`` WAL pages."""
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")

    event.listen(db.engine, "connect", on_connect)
    db.engine.dispose()  # connections opened before the listener get it too, by being opened again


#: seconds the writer process may take to open the database before a parent blocked on it gives up on it
START_TIMEOUT = 60.0
#: seconds the writer process may take to end after it said it stopped (or failed) before it is killed
STOP_TIMEOUT = 10.0
WAIT_POLL = 1.0  # seconds between checks that the writer process lives, while the parent waits on it


def _exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessWriter:
    # 8 batches in flight: the writer pauses now and then (SQLite checkpoints) and a shallow queue makes
    # the parser wait for it; memory stays bounded (at most depth × batch_size rows queued)

    #: batches may come as columns (StoreBatch.columns): the rows are made in the writer process, whose core
    #: has time to spare, not in the parsing one (measured: see BENCHMARKS.md, "SSH logs against fail2ban")
    makes_rows = True
    #: a file import hands it each detection batch in this many transactions (Pipeline.store_parts)
    transactions_per_batch = 1
    #: a file import hands it a detection batch's parts before detection, and their position after it
    #: (StoreBatch.stored_lines): this process stores them meanwhile, not once the parsing process is done
    stores_ahead = True

    def __init__(self, db: Database, depth: int = 8, *, checkpoint_pages: int | None = None,
                 parts: int = 1) -> None:
        ctx = mp.get_context("spawn")  # never fork a process that holds database connections
        self._inbox: mp.Queue = ctx.Queue(maxsize=depth)
        # at this process's exit, do not wait to flush a batch into a pipe that a dead (or terminated) writer
        # process no longer reads: that hung the exit for ever. Nothing is lost by it: close() returns only
        # once the writer process has read everything and said so
        self._inbox.cancel_join_thread()
        self._outbox: mp.Queue = ctx.Queue()
        url = db.engine.url.render_as_string(hide_password=False)
        # parts > 1: batches come in parts (Pipeline.store_parts), stored in turns with the engine's writes
        self.transactions_per_batch = parts
        self._engine = db.engine
        self._turn = ctx.RawValue("b", 0) if parts > 1 and db.dialect == "sqlite" else None
        self._process = ctx.Process(target=_process_main, name="netwarden-writer", daemon=True,
                                    args=(url, self._inbox, self._outbox, checkpoint_pages, os.getpid(),
                                          threading.current_thread() is threading.main_thread(), self._turn))
        self._process.start()
        self._begun = time.monotonic()
        self._started = False  # the writer process said it opened the database (_Started)
        if self._turn is not None:
            write_turns.share(db.engine, self._turn)
        self._closed = False
        self._held: list[Any] = []  # a message other than a commit that a metrics scrape took out of the outbox
        self._outbox_lock = threading.Lock()
        metrics.add_collector(self._scraped)

    def submit(self, batch: StoreBatch) -> None:
        if self._closed:  # closed, or its failure raised already: nobody would store it (a full inbox: no end)
            raise WriterProcessError("the writer process has stopped: the batch is not stored")
        self._check()
        while True:
            try:
                self._inbox.put(batch, timeout=WAIT_POLL)
                return
            except queue.Full:
                self._check()
                self._check_started()

    def close(self) -> None:
        """Wait until the writer process stored everything and ended; raise its error if it had one, or
        WriterProcessError if it died (the batches it had not committed are not stored)."""
        if self._closed:
            return
        self._closed = True
        try:
            error = self._finish()
        except BaseException:  # interrupted while waiting (Ctrl-C): no writer process left behind
            self._end()
            raise
        finally:
            self._stopped()
        if error is not None:
            raise WriterProcessError(error)

    def _finish(self) -> str | None:
        """Hand over the end (_STOP) and read the writer process's messages up to its own; its first error."""
        errors: list[str] = []
        if not self._put(_STOP):
            return self._last_words(errors, told=False)
        while True:
            try:
                message = self._next_message(timeout=WAIT_POLL)
            except queue.Empty:
                if not self._process.is_alive():  # (it may have sent its end just before it ended)
                    return self._last_words(errors, told=True)
                self._check_started()
                continue
            if message is _STOP:
                break
            errors.append(message)
        self._process.join(STOP_TIMEOUT)
        if self._process.is_alive():  # it said it ended but does not: it must not go on holding the database
            self._end()
        return errors[0] if errors else None

    def _put(self, item: Any) -> bool:
        """Hand ``item`` over, waiting while the inbox is full; False if the writer process died (nobody reads)."""
        while True:
            try:
                self._inbox.put(item, timeout=WAIT_POLL)
                return True
            except queue.Full:
                if not self._process.is_alive():
                    return False
                self._check_started()

    def _last_words(self, errors: list[str], told: bool) -> str | None:
        """The writer process has ended: its first error, read from what it sent before it did (those in the pipe
        when it was last looked at), else how it died; None if it ended as ``told`` (handed _STOP)."""
        self._process.join(STOP_TIMEOUT)
        while True:
            try:
                message = self._next_message(timeout=None)
            except (queue.Empty, OSError, EOFError, ValueError):
                break
            if message is _STOP:
                if told:
                    return errors[0] if errors else None
                if not errors:  # it ended of itself before it was told to: what was queued is not stored
                    errors.append("the writer process ended before it was told to")
                break
            errors.append(message)
        if errors:
            return errors[0]
        code = self._process.exitcode
        when = "while storing batches" if self._started else "before it opened the database"
        return f"the writer process died {when} ({_exit_description(code)}); batches not committed are not stored"

    def _check_started(self) -> None:
        """A parent blocked on a writer process that never said it started gives up on it after START_TIMEOUT."""
        if self._started or time.monotonic() - self._begun < START_TIMEOUT:
            return
        self._scraped()  # its word that it started may be waiting unread (a working writer must not be ended)
        if self._started:
            return
        self._closed = True
        self._end()
        self._stopped()
        raise WriterProcessError(f"the writer process did not open the database within {START_TIMEOUT:g} s")

    def _end(self) -> None:
        """Stop the writer process now (its open transaction is rolled back) and wait until it has."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(STOP_TIMEOUT)
            if self._process.is_alive():
                self._process.kill()
        self._process.join()

    def _stopped(self) -> None:
        """The writer process ended or is ending: nothing more to count, no turns to take."""
        metrics.remove_collector(self._scraped)
        if self._turn is not None:
            write_turns.unshare(self._engine, self._turn)

    def _next_message(self, timeout: float | None) -> Any:
        """The writer's next message other than a commit (commits go to the metrics); raises queue.Empty."""
        with self._outbox_lock:
            if self._held:
                return self._held.pop(0)
            while True:
                message = self._outbox.get(timeout=timeout) if timeout else self._outbox.get_nowait()
                if not self._counted(message):
                    return message

    def _counted(self, message: Any) -> bool:
        """Take note of a commit or of the start; False for any other message (an error, or _STOP)."""
        if isinstance(message, _Committed):
            message.count()
            return True
        if isinstance(message, _Started):
            self._started = True
            return True
        return False

    def _scraped(self) -> Iterator[Any]:
        """At a metrics scrape: count the commits reported so far (an idle stream submits nothing to do it)."""
        with self._outbox_lock:
            while not self._held:
                try:
                    message = self._outbox.get_nowait()
                except (queue.Empty, OSError, ValueError):
                    break
                if not self._counted(message):
                    self._held.append(message)
        return iter(())

    def _check(self) -> None:
        """Raise the writer process's error, or WriterProcessError if it died, at the caller's next call."""
        if self._closed:
            return
        try:
            message = self._next_message(timeout=None)
        except queue.Empty:
            if self._process.is_alive():
                return
            message = self._last_words([], told=False)
        self._closed = True
        try:
            if self._process.is_alive() and self._put(_STOP):  # it reads the rest, writes nothing more and ends
                self._process.join(STOP_TIMEOUT)
            self._end()
        finally:
            self._stopped()
        raise WriterProcessError(message if message is not _STOP else "the writer process ended before it was "
                                 "told to") from None

    def __enter__(self) -> ProcessWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None and not self._closed:
            self._closed = True
            try:
                self._end()  # already failing: stop writing, keep the original error
            finally:
                self._stopped()
            return
        _close_quietly_if_failing(self, exc_type)


def _close_quietly_if_failing(writer: ThreadWriter | ProcessWriter, exc_type: type | None) -> None:
    if exc_type is None:
        writer.close()
    else:
        try:
            writer.close()
        except Exception:
            pass


def open_writer(db: Database, expected_bytes: int, *, file_import: bool = False,
                in_parts: bool = False) -> ThreadWriter | ProcessWriter:
    """A process for large inputs on a database another process can reach, a thread otherwise.
    ``file_import``: the input is a file whose import resumes from its bookkeeping (fewer checkpoints);
    ``in_parts``: its batches come in parts (``transactions_per_batch``, Pipeline.store_parts)."""
    in_memory = db.dialect == "sqlite" and (db.engine.url.database or ":memory:") == ":memory:"
    if expected_bytes >= PROCESS_THRESHOLD and not in_memory:
        if file_import:  # large batches: two in flight hold as many rows as eight of a live stream's
            # each batch's pickle and columns reuse the last one's memory; not for a live stream's opener
            # (netwarden serve: the web app, for weeks)
            keep_freed_memory()
            # a log import hands each batch in parts (pipeline/files.py); a capture import hands whole batches
            parts = FILE_IMPORT_PARTS if in_parts and db.dialect == "sqlite" else 1
            return ProcessWriter(db, depth=2 * parts, checkpoint_pages=FILE_IMPORT_CHECKPOINT_PAGES, parts=parts)
        return ProcessWriter(db)
    return ThreadWriter(db)


#: parts per detection batch when importing a file into SQLite. SQLite has one writer at a time, and the detection
#: engine (in the parsing process) writes a batch's alerts between the writer process's transactions: the writer
#: process commits at the end of a part when the engine waits (netwarden.store.write_turns), so the parsing process
#: waits for one part's write at most, not a whole batch's
FILE_IMPORT_PARTS = 8

PROCESS_THRESHOLD = 8 << 20  # below this, starting a process costs more than it saves
