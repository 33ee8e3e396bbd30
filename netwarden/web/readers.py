"""Reader processes: the hot read-only API answers (events, alerts, a host's data) computed beside the web process.

One Python process answers at most one request at a time on one core (the interpreter lock), and an uncached
answer costs ~0.5-1.5 ms of CPU, half of it the query and encoding the answer: 50 clients always waiting then
see 50 x that on average. The web process keeps HTTP, sessions, the live feed and everything the running
server holds; it hands only the query and the encoding — functions of the database and their arguments — to
``processes`` reader processes, each with its own database connection, so that they use the other cores:

    readers = Readers("sqlite:///netwarden.db", 2)
    readers.start()
    body = await readers.run(events_page, query)   # events_page(db, query) runs in a reader process
    readers.close()

A function handed over must be a module-level function ``f(db, *args)`` (pickled by name); what it raises is
raised again in the web process. Jobs wait first come, first served for a free reader. When no reader is
running (``processes`` 0, an in-memory database, a reader died) the function runs in the web process's
thread pool instead, with the same result.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

from starlette.concurrency import run_in_threadpool

from netwarden.store.database import Database

log = logging.getLogger(__name__)
PROCESS_NAME = b"nw-web-reader"  # what ps / top show for a reader (benchmarks sum their CPU by it)
READ_SIZE = 1 << 20
STUCK_SECONDS = 1.0  # every reader busy with one answer this long: the web process answers meanwhile
WARM_MODULES = ("netwarden.web.api.events", "netwarden.web.api.alerts", "netwarden.web.api.hosts")


def default_processes(db_url: str, cpus: int | None) -> int:
    """Readers for ``netwarden serve``: one per core (none on one core: they would only take turns with the web
    process), at most 4; none for an in-memory SQLite database, which another process cannot open."""
    if _in_memory(db_url) or not cpus or cpus < 2:
        return 0
    return min(4, cpus)


def _in_memory(db_url: str) -> bool:
    url = db_url.lower()
    return url.startswith("sqlite") and (url.rstrip("/") in ("sqlite:", "sqlite:/", "sqlite:///:memory:")
                                         or ":memory:" in url or "mode=memory" in url)


class _Reader:
    """One reader process and the web process's end of its pipe."""

    def __init__(self, ctx: Any, db_url: str) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, db_url), name="nw-web-reader", daemon=True)
        self.proc.start()
        child.close()
        self.future: asyncio.Future | None = None  # the job it runs
        self.buffer = bytearray()  # what arrived of its reply
        self.started = 0.0  # when it got its job (the event loop's clock)


class Readers:
    def __init__(self, db_url: str, processes: int) -> None:
        self.db_url = db_url
        self.processes = 0 if _in_memory(db_url) else max(0, processes)
        self.db: Database | None = None  # the web process's own, for jobs run here (set by create_app)
        self._readers: list[_Reader] = []
        self._idle: asyncio.Queue[_Reader] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        return len(self._readers)

    def start(self) -> Readers:
        """Start the reader processes (each opens the database once: about a second)."""
        ctx = multiprocessing.get_context("spawn")  # not fork: the web process runs threads
        self._readers = [_Reader(ctx, self.db_url) for _ in range(self.processes)]
        return self

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The web server's event loop (at its start-up): replies are read there, without a thread."""
        self._loop = loop
        self._idle = asyncio.Queue()
        for reader in self._readers:
            # non-blocking, as uvloop makes every fd it watches: a long answer arrives in several reads
            os.set_blocking(reader.conn.fileno(), False)
            loop.add_reader(reader.conn.fileno(), self._answered, reader)
            self._idle.put_nowait(reader)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(db, *args)`` in a free reader process (waiting for one, first come first served), else here."""
        if self._idle is None or not self._readers:
            return await run_in_threadpool(fn, self.db, *args)
        reader = await self._free_reader()
        if reader is None:  # every reader is stuck on a long answer: do not wait behind them
            return await run_in_threadpool(fn, self.db, *args)
        if reader not in self._readers:  # it died while idle
            return await self.run(fn, *args)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        reader.future, reader.started = future, loop.time()
        try:  # a job is a few hundred bytes: the reader's empty socket buffer takes it whole, non-blocking too
            reader.conn.send_bytes(pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL))
        except (OSError, pickle.PicklingError, AttributeError, TypeError) as exc:
            reader.future = None
            if isinstance(exc, OSError):
                self._lost(reader)
            else:
                self._idle.put_nowait(reader)
            return await run_in_threadpool(fn, self.db, *args)
        ok, value = await future
        if ok:
            return value
        raise value

    async def _free_reader(self) -> _Reader | None:
        """The next free reader, or None when all of them have been busy with one answer each for
        STUCK_SECONDS (the host page of an address with millions of events takes seconds): the web process's
        threads then answer, as they did before readers."""
        assert self._idle is not None
        while True:
            if not self._idle.empty():
                return self._idle.get_nowait()
            if self._stuck():
                return None
            try:
                async with asyncio.timeout(STUCK_SECONDS):  # a timer, not wait_for's task per request
                    return await self._idle.get()
            except TimeoutError:
                continue

    def _stuck(self) -> bool:
        now = asyncio.get_running_loop().time()
        return all(r.future is not None and now - r.started > STUCK_SECONDS for r in self._readers)

    def _answered(self, reader: _Reader) -> None:
        """Part of the reader's reply is readable (in the event loop): keep it until the whole reply is here
        (multiprocessing's framing: a 4-byte big-endian length, then the pickled reply)."""
        try:
            chunk = os.read(reader.conn.fileno(), READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            chunk, why = b"", str(exc)
        else:
            why = "no answer"
        if not chunk:
            future, reader.future = reader.future, None
            self._lost(reader)
            if future is not None and not future.done():
                future.set_result((False, RuntimeError(f"a reader process stopped: {why}")))
            return
        reader.buffer += chunk
        if len(reader.buffer) < 4:
            return
        size = struct.unpack("!i", reader.buffer[:4])[0]
        head = 4 if size >= 0 else 12  # -1: an 8-byte length follows (2 GiB or more)
        if size < 0:
            if len(reader.buffer) < 12:
                return
            size = struct.unpack("!Q", reader.buffer[4:12])[0]
        if len(reader.buffer) < head + size:
            return
        data = bytes(reader.buffer[head:head + size])
        del reader.buffer[:head + size]
        future, reader.future = reader.future, None
        try:
            ok, value = pickle.loads(data)
        except Exception as exc:  # noqa: BLE001 - an exception that cannot be rebuilt here
            ok, value = False, RuntimeError(f"unreadable answer of a reader process: {exc}")
        if future is not None and not future.done():
            future.set_result((ok, value))
        if self._idle is not None and reader in self._readers:
            self._idle.put_nowait(reader)

    def _lost(self, reader: _Reader) -> None:
        """A reader died: forget it (its jobs run in the web process from now on) and say so once."""
        if reader in self._readers:
            self._readers.remove(reader)
            log.warning("a web reader process stopped (exit code %s); %d left", reader.proc.exitcode,
                        len(self._readers))
            if self._loop is not None:
                self._loop.remove_reader(reader.conn.fileno())
            reader.conn.close()

    def close(self) -> None:
        readers, self._readers = self._readers, []
        for reader in readers:
            try:
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.remove_reader(reader.conn.fileno())
            except (ValueError, OSError, RuntimeError):
                pass
            reader.conn.close()  # the reader sees the end of its pipe and returns
        for reader in readers:
            reader.proc.join(5)
            if reader.proc.is_alive():
                reader.proc.terminate()
                reader.proc.join(5)


_own: tuple[Database, Any] | None = None  # a reader process's database and its connection, kept between jobs


@contextmanager
def connection(db: Database) -> Iterator[Any]:
    """A database connection for one job. In a reader process, its own connection, kept between jobs (taking
    one from the pool and giving it back cost ~10 % of a host page's answer) with the job's transaction ended
    after each job, so that no snapshot outlives it; anywhere else (the web process's threads), one from the
    pool."""
    global _own
    if _own is None or _own[0] is not db:
        with db.engine.connect() as conn:
            yield conn
        return
    conn = _own[1]
    if conn.closed or conn.invalidated:
        conn = db.engine.connect()
        _own = (db, conn)
    try:
        yield conn
    finally:
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001 - a broken connection: the next job takes a new one
            conn.close()


def _warm() -> None:
    """Load what the first answers would otherwise load while clients wait: the API modules whose functions
    readers run, and the user-agent rules (the host page's; building the parser takes a second or more)."""
    import importlib

    for name in WARM_MODULES:
        importlib.import_module(name)
    from netwarden.useragent import parse_agent

    parse_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")


def _serve(conn: Connection, db_url: str) -> None:
    """A reader process: answer jobs until the web process closes the pipe."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which then closes the pipe
    try:
        with open("/proc/self/comm", "wb") as f:
            f.write(PROCESS_NAME)
    except OSError:
        pass
    global _own
    db = Database.open(db_url, migrate=False)  # the web process migrated it
    _own = (db, db.engine.connect())
    _warm()
    try:
        while True:
            try:
                fn, args = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError):
                return
            try:
                reply = (True, fn(db, *args))
            except Exception as exc:  # raised again in the web process
                reply = (False, exc)
            try:
                data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # noqa: BLE001 - an unpicklable answer or exception
                data = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
            conn.send_bytes(data)
    finally:
        _own[1].close()
        db.close()
