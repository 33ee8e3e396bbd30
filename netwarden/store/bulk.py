"""Bulk loading of event rows on the server engines, past the drivers' per-value Python work.

- MariaDB/MySQL: multi-row ``INSERT ... VALUES (..),(..)`` statements of about 1 MB, their literals built here.
  PyMySQL's ``executemany`` sends similar statements, but escapes every value through a generic, per-type
  dispatch: 27 µs of the writer's CPU per event, against 6 µs here (benchmarks/bench_store_write.py), and less
  since the literals are built column by column. Text goes as hex literals (``X'..'``, its UTF-8 bytes): nothing
  of the logged text is left to escape, and the server parses them for less (see ``_mysql_str``).
  Most rows go without SQL text at all: a statement of ``_BINARY_ROWS`` rows of placeholders, prepared once per
  batch and executed with binary values (``_Prepared``); the rows left over, and any value with no binary form,
  go as literals.
  On MariaDB the foreign keys are checked once per batch rather than by the server for each row.
- PostgreSQL: ``COPY ... FROM STDIN (FORMAT BINARY)`` through psycopg, whose C code encodes each value from
  its declared column type: no text to format in the client or to parse in the server. The table has no
  foreign key there (migration 0015): its trigger looked the source up for each row, a third of the server's
  COPY; the batch's sources are checked and locked here once.

Rows are :class:`~netwarden.store.events.EventWriter` tuples: already cleaned (no NUL, no lone surrogate),
cut to their column limits, times naive UTC, ``extra`` as JSON text, addresses as bytes.
"""

from __future__ import annotations

import math
import queue
import socket
import struct
import threading
import weakref
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate, chain, compress, repeat
from operator import is_, itemgetter
from typing import Any

from pymysql.converters import escape_float
from pymysql.err import IntegrityError, MySQLError, OperationalError, raise_mysql_exception

#: Characters per statement, PyMySQL's own size for ``executemany`` (``Cursor.max_stmt_length``); even all
#: 4-byte characters stay within ``max_allowed_packet`` (16 MiB by default on MariaDB, 4 MiB at the least
#: on supported MySQL). A single larger row goes alone, as it did through ``executemany``.
MYSQL_STATEMENT_CHARS = 1_024_000
#: bytes kept free in a packet for what is not the rows (command, header, a statement's head)
_PACKET_SLACK = 4096
# PyMySQL connection -> its session's max_allowed_packet (read-only in a session: read once per connection)
_PACKET_SIZES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _max_packet(raw: Any, cursor: Any) -> int:
    """The server's ``max_allowed_packet`` for this connection. The sizes above assume it is at least 4 MiB (MariaDB's
    default is 16 MiB); a server set lower refused the larger statements with error 1153 and dropped the connection,
    failing the import. Smaller statements are made for it instead (``mysql_insert``)."""
    size = _PACKET_SIZES.get(raw)
    if size is None:
        cursor.execute("SELECT @@max_allowed_packet")
        size = _PACKET_SIZES[raw] = int(cursor.fetchone()[0])
    return size


def _mysql_str(value: str) -> str:
    """Text as a hex literal of its UTF-8 bytes, which the server stores as they are into the utf8mb4 columns
    (every table is utf8mb4: migrations/tables.py; bytes that are not UTF-8 are refused, as before).

    Why not a quoted literal: the server unescapes a quoted one, counts its characters and converts up to 256 of
    them to utf8mb3 for the literal's name (``Item::set_name``, useless in an INSERT): hex cuts MariaDB's server
    CPU per access-log event by a fifth (BENCHMARKS.md). And no character of the attacker's text reaches the SQL
    text, so no escaping (nor NO_BACKSLASH_ESCAPES) to get right. A lone surrogate raises UnicodeEncodeError:
    no encoding holds one (EventWriter's rows never have one)."""
    return "X'" + value.encode().hex() + "'"


def _mysql_datetime(value: datetime) -> str:
    if value.tzinfo is not None:  # EventWriter rows hold naive UTC; anything else the driver's way
        from pymysql.converters import escape_datetime
        return str(escape_datetime(value))
    return "'" + value.isoformat(" ", "microseconds") + "'"


_MYSQL_LITERALS: dict[type, Callable[[Any], str]] = {
    type(None): lambda _v: "NULL",
    str: _mysql_str,
    int: int.__repr__,
    bool: lambda v: "1" if v else "0",
    float: escape_float,  # PyMySQL's: refuses nan and inf as it always did
    datetime: _mysql_datetime,
    bytes: lambda v: "X'" + v.hex() + "'",
}


@dataclass(frozen=True)
class ParentKey:
    """A foreign key of the rows: the value at ``index`` is NULL or a ``key`` of ``table`` (names quoted)."""

    index: int
    table: str
    key: str


def parent_keys(table: Any, columns: Sequence[str], quote: Callable[[str], str]) -> tuple[ParentKey, ...]:
    """The foreign keys of ``table`` (SQLAlchemy), for rows holding ``columns`` in that order."""
    return tuple(ParentKey(list(columns).index(fk.parent.name), quote(fk.column.table.name), quote(fk.column.name))
                 for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name))


def _parent_keys_of(rows: Sequence[tuple], parent: ParentKey) -> set:
    keys = set(map(itemgetter(parent.index), rows))
    keys.discard(None)
    return keys


def _missing_parents(parent: ParentKey, missing: set) -> str:
    return ("Cannot add or update a child row: a foreign key constraint fails "
            f"({parent.table}.{parent.key} has no {sorted(missing, key=str)})")


def _lock_parents(cursor: Any, rows: Sequence[tuple], parents: Sequence[ParentKey],
                  literal: Callable[[Any], str]) -> None:
    """What InnoDB's foreign-key check does for each row, once for the batch: every parent key the rows name
    exists, and stays (a shared lock on its row until the transaction ends; a delete waits for it)."""
    for parent in parents:
        keys = _parent_keys_of(rows, parent)
        if not keys:
            continue
        cursor.execute(f"SELECT {parent.key} FROM {parent.table} WHERE {parent.key} IN "
                       f"({','.join(map(literal, keys))}) LOCK IN SHARE MODE")
        missing = keys - {found for found, in cursor.fetchall()}
        if missing:
            raise IntegrityError(1452, _missing_parents(parent, missing))


def pg_lock_parents(raw: Any, rows: Sequence[tuple], parents: Sequence[ParentKey]) -> None:
    """On PostgreSQL, what the foreign key's trigger did for each row (migration 0015 dropped it), once for the
    batch: every parent key exists, and is locked ``FOR KEY SHARE`` (the lock that trigger takes) until the
    transaction ends, so that a delete of the parent waits, then sees the rows."""
    from psycopg.errors import ForeignKeyViolation

    with raw.cursor() as cursor:
        for parent in parents:
            keys = _parent_keys_of(rows, parent)
            if not keys:
                continue
            cursor.execute(f"SELECT {parent.key} FROM {parent.table} WHERE {parent.key} = ANY(%s) "
                           f"ORDER BY {parent.key} FOR KEY SHARE", (sorted(keys),))
            missing = keys - {found for found, in cursor.fetchall()}
            if missing:
                raise ForeignKeyViolation(_missing_parents(parent, missing))


def mysql_insert(raw: Any, table: str, columns: Sequence[str], rows: Sequence[tuple],
                 parents: Sequence[ParentKey] = (), values_by_column: Sequence[Sequence] | None = None) -> None:
    """Insert ``rows`` (values of ``columns``, names quoted) into ``table`` through the PyMySQL connection ``raw``.

    A column NULL in every row of the batch is left out of the statements: it gets its default, NULL (the
    caller's columns have no other default), and the server parses and stores one value less per row; an
    access log leaves half of the events' columns NULL.
    On MariaDB the ``parents`` (the table's foreign keys) are checked and locked once for the batch, and the
    statements skip the server's check of every row (``SET STATEMENT foreign_key_checks=0 FOR``, this statement
    only): one look-up per batch instead of one per row. ``values_by_column``: the rows' values column by column,
    when the caller has them (the statements are built column by column; else the rows are transposed)."""
    def fallback(value: Any) -> str:  # a type not above (an int or str subclass): PyMySQL's own encoders
        return str(raw.escape(value))

    get = _MYSQL_LITERALS.get
    cursor = raw.cursor()
    try:
        # what fits in one packet: characters of a text statement (4 bytes each at most), a text in hex (doubled;
        # a longer one is quoted, so that a row alone still fits as it did before hex) and a binary execution
        packet = _max_packet(raw, cursor) - _PACKET_SLACK
        chars, longest_hex = min(MYSQL_STATEMENT_CHARS, packet // 4), min(_LONGEST_HEX, packet // 8)
        head_prefix = ""
        if parents and "MariaDB" in raw.get_server_info():  # MySQL has no SET STATEMENT: it checks each row
            _lock_parents(cursor, rows, parents, lambda v: get(type(v), fallback)(v))
            head_prefix = "SET STATEMENT foreign_key_checks=0 FOR "
        every = list(zip(columns, zip(*rows) if values_by_column is None else values_by_column))
        # values[0] first: count() compares each value that is not None (slow), and most columns start with one
        kept = [(name, values) for name, values in every
                if values[0] is not None or values.count(None) != len(values)] or every[:1]
        head = f"{head_prefix}INSERT INTO {table} ({', '.join(name for name, _ in kept)}) VALUES "
        sender = _Sender(cursor)
        binary = _Prepared.open(raw, head, len(kept), len(rows), packet)
        try:
            pending: list[str] = []  # rows built, not sent yet
            done = 0
            if binary is not None:  # whole statements of binary values while rows are left for one
                for done in range(0, len(rows) - binary.rows + 1, binary.rows):
                    body = binary.body([values[done:done + binary.rows] for _, values in kept])
                    if body is not None:
                        sender.wait()  # a text statement's reply comes first
                        binary.send(body)
                    else:  # a value with no binary form here: these rows as text, in their place
                        binary.finish()
                        left = _send_full(sender.send_text, head, _mysql_rows(
                            [values[done:done + binary.rows] for _, values in kept], get, fallback, longest_hex),
                            chars)
                        if left:
                            sender.send_text(_statement(head, left))
                done += binary.rows
                binary.finish()  # the replies read before the connection carries text statements again
            starts = [done, *range(done + _FIRST_ROWS, len(rows), _ROWS_AT_ONCE)]
            for start, end in zip(starts, [*starts[1:], len(rows)]):
                if start == end:
                    continue
                chunk = [values[start:end] for _, values in kept]
                pending = _send_full(sender.send_text, head,
                                     pending + _mysql_rows(chunk, get, fallback, longest_hex), chars)
                if start == 0 and end < len(rows) and pending:  # the server starts while the rest is built
                    sender.send_text(_statement(head, pending))
                    pending = []
        finally:
            try:
                sender.wait()  # the connection is free again (and a statement's error raised) before anything else
            finally:
                sender.close()
                if binary is not None:
                    try:
                        binary.finish()
                    finally:
                        binary.close()
        if pending:
            cursor.execute(_statement(head, pending))
    finally:
        cursor.close()


def _statement(head: str, rows: Sequence[str]) -> str:
    return head + "(" + "),(".join(rows) + ")"


def _send_full(send: Callable[[str], None], head: str, rows: list[str], chars: int | None = None) -> list[str]:
    """Send statements of ``rows`` (each ``v1,v2,..``) of at most ``chars`` characters (``MYSQL_STATEMENT_CHARS``;
    a longer row alone) while the rows fill more than one; return the rows left, which fit in one. Where to cut is
    found by bisection over the rows' running lengths, with no Python step per row."""
    limit = (MYSQL_STATEMENT_CHARS if chars is None else chars) - len(head) + 1
    ends = list(accumulate(map((3).__add__, map(len, rows))))  # "(" + row + ")," per row
    first, sent = 0, 0
    while True:
        cut = bisect_right(ends, sent + limit, lo=first)
        if cut == len(rows):
            return rows[first:]
        cut = max(cut, first + 1)
        send(_statement(head, rows[first:cut]))
        first, sent = cut, ends[cut - 1]


class _Sender:
    """Runs each statement but the last on a thread while the caller builds the next one: the thread waits
    for the server with the interpreter lock released, so building (client CPU) and executing (server CPU)
    overlap instead of taking turns. One statement at a time, in order, on the caller's connection; one thread
    for all of a batch's statements (a thread each cost the client more than a statement of 300 rows' values)."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.done = threading.Event()  # no statement running
        self.done.set()

    def send(self, run: Callable[[Any], Any], argument: Any) -> None:
        self.wait()
        if self.thread is None:
            thread = threading.Thread(target=self._run, name="netwarden-mysql-insert", daemon=True)
            thread.start()
            self.thread = thread  # only once started: close() joins it
        try:
            self.done.clear()
            self.jobs.put((run, argument))
        except BaseException:
            # an interrupt (Ctrl-C) between the two: no job queued would set ``done`` again, and the caller's
            # wait() would last for ever. If it was queued after all, close() still waits for it (it joins the thread)
            self.done.set()
            raise

    def send_text(self, statement: str) -> None:
        self.send(self.cursor.execute, statement)  # no arguments: PyMySQL sends the text as it is

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                job[0](job[1])
            except BaseException as exc:  # raised in the caller by wait()
                self.error = exc
            finally:
                self.done.set()

    def wait(self) -> None:
        """Until the statement sent last has run; raises its error."""
        self.done.wait()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self) -> None:
        """Waits for the statement sent last and ends the thread (its error, if any, is for wait())."""
        if self.thread is not None:
            self.done.wait()
            self.jobs.put(None)
            self.thread.join()
            self.thread = None


#: Rows per prepared statement of binary values, at most (placeholders are counted in 16 bits).
_BINARY_ROWS = 300
_MAX_PARAMS = 65_535
#: executions written ahead of their replies
_IN_FLIGHT = 8
_COM_STMT_PREPARE, _COM_STMT_EXECUTE, _COM_STMT_CLOSE = 0x16, 0x17, 0x19
_CLIENT_DEPRECATE_EOF = 1 << 24
# the binary protocol's value types (MYSQL_TYPE_*): a VAR_STRING is text in the connection's character set
# (utf8mb4), a BLOB bytes; a DATETIME and a LONGLONG are their binary forms
_T_DOUBLE, _T_LONGLONG, _T_NULL, _T_DATETIME, _T_BLOB, _T_VAR_STRING = 5, 8, 6, 12, 252, 253
_INT64 = struct.Struct("<q").pack
_FLOAT64 = struct.Struct("<d").pack
_DATETIME = struct.Struct("<BHBBBBBI").pack  # length 11, then year .. microsecond
#: a length-encoded string's length prefix, for lengths below 2**16
_LENGTH = tuple(bytes([n]) if n < 251 else b"\xfc" + n.to_bytes(2, "little") for n in range(1 << 16))


def _length(n: int) -> bytes:
    if n < 1 << 16:
        return _LENGTH[n]
    return b"\xfd" + n.to_bytes(3, "little") if n < 1 << 24 else b"\xfe" + n.to_bytes(8, "little")


class _Prepared:
    """A multi-row INSERT prepared on the server and executed with binary values (``COM_STMT_EXECUTE``, through
    PyMySQL's packet layer: PyMySQL has no prepared statements of its own).

    Why: the server's share of a text INSERT is half SQL text work (lexing each literal's characters, parsing,
    an item made and freed per value); bound values go straight to the columns. And the client sends each text's
    UTF-8 bytes with a length in front, where a hex literal doubled them (BENCHMARKS.md, MariaDB)."""

    def __init__(self, raw: Any, stmt_id: int, columns: int, rows: int, max_data: int) -> None:
        self.raw, self.stmt_id, self.columns, self.rows = raw, stmt_id, columns, rows
        self.max_data = max_data  # bytes of values in one execution, at most (its packet fits max_allowed_packet)
        self.reader: threading.Thread | None = None
        self.slots = threading.Semaphore(_IN_FLIGHT)
        self.expected: queue.SimpleQueue = queue.SimpleQueue()
        self.all_answered = threading.Condition()
        self.sent = self.answered = 0
        self.error: BaseException | None = None
        self.broken = False
        self.abandoned = False  # closed by _abandon (whose caller raises its own error)

    @classmethod
    def open(cls, raw: Any, head: str, columns: int, total_rows: int,
             packet: int = 4 * MYSQL_STATEMENT_CHARS) -> _Prepared | None:
        """The statement ``head`` + ``rows`` rows of placeholders, prepared; None if fewer rows are left, the
        connection is not PyMySQL's, or an execution would not fit in ``packet`` bytes."""
        rows = min(_BINARY_ROWS, _MAX_PARAMS // columns)
        params = rows * columns
        statement = head + ",".join(["(" + ",".join("?" * columns) + ")"] * rows)
        # an execution is a header, the NULL bitmap and two bytes of type per value before the values
        max_data = min(4 * MYSQL_STATEMENT_CHARS, packet - (params + 7) // 8 - 2 * params)
        if max_data <= 0 or len(statement) > packet:  # a server with very small packets: text only
            return None
        if total_rows < rows or not all(hasattr(raw, name) for name in ("_execute_command", "_read_packet",
                                                                          "_read_bytes", "_write_bytes",
                                                                          "client_flag")):
            return None
        if getattr(raw, "charset", None) != "utf8mb4":  # text values are in the connection's charset: UTF-8 only
            return None  # there (a URL may name utf8 or latin1); hex literals store UTF-8 on any
        raw._execute_command(_COM_STMT_PREPARE, statement)
        try:
            first = raw._read_packet()
        except MySQLError:  # refused (max_prepared_stmt_count reached ...): the text path, which raises a real error
            return None
        stmt_id, result_columns, params = struct.unpack_from("<IHH", first.get_all_data(), 1)
        eof = not raw.client_flag & _CLIENT_DEPRECATE_EOF  # each list of definitions ends with an EOF packet
        for _ in range(params + result_columns + eof * (bool(params) + bool(result_columns))):
            raw._read_packet()  # the placeholders' definitions: nothing in them is needed
        return cls(raw, stmt_id, columns, rows, max_data)

    def body(self, columns: Sequence[Sequence[Any]]) -> bytes | None:
        """The ``COM_STMT_EXECUTE`` payload for ``self.rows`` rows given column by column, or None if a value
        has no binary form here (the rows then go as text literals, which refuse or convert it as before)."""
        types, pieces, nulls = [], [], 0
        width = len(columns)
        for c, values in enumerate(columns):
            encoded = _binary_column(values)
            if encoded is None:
                return None
            code, parts, null_rows = encoded
            types.append(code)
            pieces += parts
            for r in null_rows:
                nulls |= 1 << (r * width + c)
        data = b"".join(chain.from_iterable(zip(*pieces)))  # row after row, each row's values in column order
        if len(data) > self.max_data:  # more than a packet may hold: the text path cuts it into statements that fit
            return None
        params = width * self.rows
        return b"".join((struct.pack("<IBI", self.stmt_id, 0, 1), nulls.to_bytes((params + 7) // 8, "little"),
                         b"\x01", bytes(chain.from_iterable((code, 0) for code in types)) * self.rows, data))

    def send(self, body: bytes) -> None:
        """Writes one execution to the socket without waiting for the replies of those before it (at most
        ``_IN_FLIGHT`` unanswered): the server reads the next as soon as it is done with one, even while this
        process's other thread holds the interpreter lock for long (unpickling a batch: ~20 ms). A thread reads
        the replies, in order; :meth:`finish` waits for them and raises the first error."""
        if self.reader is None:
            self.reader = threading.Thread(target=self._read_replies, name="netwarden-mysql-replies", daemon=True)
            self.reader.start()
        self.slots.acquire()
        if self.error is not None or self.broken:
            self.slots.release()
            self.finish()  # raises
        data = struct.pack("<IB", len(body) + 1, _COM_STMT_EXECUTE) + body  # one packet: sequence number 0
        try:
            # the reply expected before it is counted (finish waits for answered >= sent): an interrupt between
            # the two, or before the write, leaves no wait for a reply that never comes (_abandon wakes the reader)
            self.expected.put(1)
            self.sent += 1
            self.raw._write_bytes(data)
        except BaseException:
            self._abandon()  # perhaps a part of the packet went (Ctrl-C): the stream is out of step
            raise

    def _abandon(self) -> None:
        """Close the connection: what the server reads next would be taken as the rest of a packet, or a reply
        left unread as another command's. Closed, nothing can use it again (the pool drops it: its ROLLBACK
        fails as on a lost connection); the reader is woken (shutdown) and its errors are not the caller's."""
        self.broken = self.abandoned = True
        sock = getattr(self.raw, "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            self.raw._force_close()
        except Exception:
            pass

    def _read_replies(self) -> None:
        raw = self.raw
        while self.expected.get() is not None:
            try:
                if self.broken:
                    continue
                header = raw._read_bytes(4)
                length = int.from_bytes(header[:3], "little")
                packet = raw._read_bytes(length)
                if packet[0] == 0xFF and self.error is None:
                    try:
                        raise_mysql_exception(packet)
                    except MySQLError as exc:
                        self.error = exc
                elif packet[0] != 0 and self.error is None:
                    self.broken = True
                    self.error = OperationalError(2014, "Command Out of Sync")
            except BaseException as exc:  # the connection is lost: no more replies come
                self.broken = True
                if self.error is None:
                    self.error = exc
            finally:
                self.slots.release()
                self.answered += 1
                with self.all_answered:
                    self.all_answered.notify_all()

    def finish(self) -> None:
        """Waits for the replies of everything sent; raises the first error among them."""
        if self.reader is not None:
            with self.all_answered:
                self.all_answered.wait_for(lambda: self.answered >= self.sent)
            self.expected.put(None)
            self.reader.join()
            self.reader = None
        if self.broken and not self.abandoned:  # a reply out of step (or the connection lost): not to be reused
            self._abandon()
            self.abandoned = False  # the reader's error is the one to raise
        if self.abandoned:
            self.error = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self) -> None:
        if self.broken:
            return  # the connection is closed: the statement went with it
        try:
            self.raw._execute_command(_COM_STMT_CLOSE, struct.pack("<I", self.stmt_id))  # no reply
        except Exception:  # the connection is broken: the statement went with it (and its error is raised)
            pass


def _binary_column(values: Sequence[Any]) -> tuple[int, list[Sequence[bytes]], list[int]] | None:
    """One column's values in binary form: its type code, its pieces (lists of bytes per row: b"" for a NULL)
    and the rows where it is NULL; None if a value has no binary form here."""
    types = set(map(type, values))
    null_rows = list(compress(range(len(values)), map(is_, values, repeat(None)))) if _NULL in types else []
    types.discard(_NULL)
    if not types:
        return _T_NULL, [[b""] * len(values)], null_rows
    if len(types) > 1:
        return None
    kind = types.pop()
    if kind is str or kind is bytes:
        data = list(map(str.encode, ["" if v is None else v for v in values] if null_rows else values)) \
            if kind is str else ([b"" if v is None else v for v in values] if null_rows else values)
        lengths = list(map(len, data))
        prefixes = list(map(_LENGTH.__getitem__ if max(lengths) < 1 << 16 else _length, lengths))
        for r in null_rows:
            prefixes[r] = b""
        return _T_VAR_STRING if kind is str else _T_BLOB, [prefixes, data], null_rows
    if kind is int:
        present = [v for v in values if v is not None] if null_rows else values
        if min(present) < -(1 << 63) or max(present) >= 1 << 63:
            return None
        return _T_LONGLONG, [[b"" if v is None else _INT64(v) for v in values] if null_rows
                               else list(map(_INT64, values))], null_rows
    if kind is float:
        if not all(math.isfinite(v) for v in values if v is not None):
            return None  # nan and inf go as text, which refuses them (PyMySQL's escape_float)
        return _T_DOUBLE, [[b"" if v is None else _FLOAT64(v) for v in values]], null_rows
    if kind is datetime:
        out: list[bytes] = []
        last, data = None, b""  # a NULL first: no bytes (its bit is in the NULL bitmap)
        for ts in values:
            if ts is not last:  # lines of one second share one time object (the parsers' caches)
                if ts is not None and ts.tzinfo is not None:
                    return None  # EventWriter rows hold naive UTC; anything else the text way
                last, data = ts, b"" if ts is None else _DATETIME(
                    11, ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second, ts.microsecond)
            out.append(data)
        return _T_DATETIME, [out], null_rows
    return None


#: Rows whose literals are built at once: column by column, so each column's work runs in C. The first
#: statement is smaller: the server waits for it.
_ROWS_AT_ONCE = 2_000
_FIRST_ROWS = 400
#: Characters of the longest text sent in hex (up to 8 MB): a longer one goes as a quoted literal (PyMySQL's
#: escaping, which follows NO_BACKSLASH_ESCAPES), so that a row fits ``max_allowed_packet`` as before hex.
_LONGEST_HEX = 1 << 20
_NULL = type(None)


def _mysql_rows(columns_in: Sequence[Sequence[Any]], get: Callable, fallback: Callable[[Any], str],
                longest_hex: int | None = None) -> list[str]:
    """``v1,v2,..`` for each row of the ``columns_in`` (the values of each column), built column by column so
    that most of the work runs in C: each column maps its type's literal over its values (a text column's hex
    literals are made in one join and split), giving what each value's own literal gives. Texts longer than
    ``longest_hex`` (``_LONGEST_HEX``) characters are quoted."""
    longest_hex = _LONGEST_HEX if longest_hex is None else longest_hex
    columns: list[Sequence[str]] = []
    for column in columns_in:
        types = set(map(type, column))
        if types == {_NULL}:
            columns.append(("NULL",) * len(column))
        elif types <= {str, _NULL} and max(map(len, filter(None, column)), default=0) <= longest_hex:
            columns.append(_text_column(column, _NULL in types))
        elif types <= {str, _NULL}:  # hex doubles a text's size: a very long one is quoted by the driver
            columns.append([fallback(v) if v is not None and len(v) > longest_hex else get(type(v))(v)
                            for v in column])
        elif types == {datetime}:
            columns.append(_time_column(column, get(datetime)))
        elif len(types) == 1:
            columns.append(list(map(get(types.pop(), fallback), column)))
        else:
            columns.append([get(type(v), fallback)(v) for v in column])
    return list(map(",".join, zip(*columns)))


def _text_column(column: Sequence[str | None], has_null: bool) -> list[str]:
    """``_mysql_str`` of each value (NULL for None): hex text holds no NUL, so the literals are joined by NUL and
    split apart again, with no Python step per value."""
    if not column:
        return []
    values = ["" if v is None else v for v in column] if has_null else column
    quoted = ("X'" + "'\x00X'".join(map(bytes.hex, map(str.encode, values))) + "'").split("\x00")
    if has_null:
        return ["NULL" if v is None else q for v, q in zip(column, quoted)]
    return quoted


def _time_column(column: tuple, literal: Callable[[datetime], str]) -> list[str]:
    """Lines of one second share one time object (the parsers' caches): each object is written once."""
    out = []
    last = text = None
    for ts in column:
        if ts is not last:
            last, text = ts, literal(ts)
        out.append(text)
    return out


#: PostgreSQL's type for each column type as SQLAlchemy creates it there. COPY's binary format has no type
#: tags: each value must be sent in its column's exact binary form (an int4 for a smallint is refused).
#: json goes as text: the server parses it as it does a text COPY.
_PG_COPY_TYPES = {"BIGINT": "int8", "INTEGER": "int4", "SMALLINT": "int2", "FLOAT": "float8",
                  "DOUBLE PRECISION": "float8", "TEXT": "text", "JSON": "text", "BYTEA": "bytea",
                  "TIMESTAMP WITHOUT TIME ZONE": "timestamp"}


def pg_copy_types(table: Any, columns: Sequence[str], dialect: Any) -> list[str]:
    """The types to declare to psycopg for a binary COPY of ``columns`` of ``table``."""
    types = []
    for name in columns:
        compiled = table.c[name].type.dialect_impl(dialect).compile(dialect=dialect).upper()
        base = compiled.split("(")[0]
        types.append(_PG_COPY_TYPES["TEXT" if base == "VARCHAR" else base])
    return types


def pg_copy(raw: Any, sql: str, types: Sequence[str], rows: Sequence[tuple],
            parents: Sequence[ParentKey] = ()) -> None:
    """Stream ``rows`` through psycopg's binary COPY (``sql`` ends with ``FROM STDIN (FORMAT BINARY)``), after
    checking and locking the ``parents`` they name (foreign keys the table has not on PostgreSQL)."""
    if parents:
        pg_lock_parents(raw, rows, parents)
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        copy.set_types(types)
        write = copy.write_row
        for row in rows:
            write(row)
