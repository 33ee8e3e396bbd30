"""The events' bulk paths (multi-row INSERT literals on MariaDB, binary COPY on PostgreSQL, executemany on
SQLite) store every field exactly as the driver's own parameter binding does, and as it went in: hostile text,
4-byte characters, NULLs, the ends of every numeric range, far timestamps, nested JSON."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from netwarden.records import EVENT_FIELDS, Event
from netwarden.store import bulk
from netwarden.store import sources as source_store
from netwarden.store.database import Database
from netwarden.store.events import EventWriter, event_row
from netwarden.store.schema import events
from tests.conftest import ENGINES

pytestmark = pytest.mark.engines

# MariaDB's own paths run on MariaDB alone, rather than as skips on the engines where they mean nothing
_NO_MARIADB = pytest.mark.skip(reason="MariaDB is not in NETWARDEN_TEST_ENGINES")
on_mariadb = pytest.mark.parametrize(
    "db_url", [pytest.param("mariadb", marks=[] if "mariadb" in ENGINES else [_NO_MARIADB])], indirect=True)

UTC = timezone.utc
T0 = datetime(2026, 12, 4, 19, 0, 0, 1, tzinfo=UTC)

# text that breaks naive quoting in SQL literals, COPY's text format, LOAD DATA, printf-style markers
NASTY = [
    "", " ", "'", "''", "\\", "\\'", "'\\", "ends with a backslash\\", "\\\\'\\", "\\N", "NULL", "null",
    "\\.", "line\n\\.\nafter", "tab\there", "crlf\r\nx", "%s %(name)s ? :name $1 {}", "-- /* */ ;",
    "\x1a ctrl-z \x07 bell \x1b[31m esc \x7f del", '" double "', "`backtick`",
    "smile 😀 clef 𝄞 flag 🇩🇪 cjk 漢字 rtl \u202e combining e\u0301", "_binary X'00'", "0x41",
]


def _events() -> list[Event]:
    out = []
    for i, text in enumerate(NASTY):
        out.append(Event(timestamp=T0 + timedelta(seconds=i), source_kind="syslog", observer=text[:255] or None,
                         message=text, raw=text, url=text, user_agent=text, user=text, label=text,
                         tcp_flags=text[:64], action=text[:32], extra={"text": text, text: [text]}))
    out += [
        # every optional field NULL, an empty extra (stored as NULL)
        Event(timestamp=datetime(1970, 1, 1, tzinfo=UTC), source_kind="zeek"),
        # the ends of the numeric ranges and the address kinds
        Event(timestamp=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), source_kind="netflow",
              src_ip="203.0.113.255", src_port=0, dst_ip="2001:db8::ffff", dst_port=2**31 - 1,
              bytes_out=2**63 - 1, bytes_in=-(2**63), packets_out=0, packets_in=1, duration=1.5e300,
              http_status=32767, transport="udp", app_protocol="dns"),
        Event(timestamp=datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC), source_kind="netflow",
              src_ip="::ffff:192.0.2.1", dst_ip="not an address", dst_port=-(2**31), duration=1e-300,
              http_status=-32768, bytes_out=-1, extra={"nested": {"list": [1, 2.5, None, True, False, "x'\\"]},
                                                       "big": 2**70, "ü😀": {"k": "v"}}),
        # another time zone: stored in UTC
        Event(timestamp=datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
              source_kind="access_log", src_ip="10.0.0.1", duration=86400.123456789, http_method="GET",
              http_status=200,
              url="/" + "A1b2" * 15_000, message="m" * 60_000 + "😀"),
        # cleaned: NUL and lone surrogates kept visibly escaped; over-long short fields cut
        Event(timestamp=T0, source_kind="http", message="nul\x00here", url="/a\x00b", user="lone \ud800",
              extra={"s": "\udc80"}, label="L" * 500, observer="o" * 400, http_method="X" * 100),
    ]
    return out


def _stored(db: Database) -> list[dict]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(events).order_by(events.c.id)).mappings().all()
    return [{k: v for k, v in r.items() if k != "id"} for r in rows]


def _store(db: Database, *, fast: bool, evs: list[Event] | None = None) -> list[dict]:
    evs = _events() if evs is None else evs
    with db.engine.begin() as conn:
        known = source_store.all_sources(conn)
        source_id = known[0]["id"] if known else source_store.create(
            conn, kind="file", name="edge", fmt="netwarden", first_line_sha="0" * 64, prefix_sha="0" * 64)
        conn.execute(events.delete())
        numbers = [i * 2**40 for i in range(len(evs))]
        if fast:
            writer = EventWriter(conn.dialect)
            writer.insert(conn, writer.rows(evs, source_id, numbers))
        else:  # the reference: SQLAlchemy Core, each value bound by the driver
            conn.execute(events.insert(), [event_row(e, source_id, n) for e, n in zip(evs, numbers)])
    return _stored(db)


def test_the_fast_path_stores_what_driver_binding_stores(db: Database) -> None:
    reference = _store(db, fast=False)
    fast = _store(db, fast=True)
    assert len(fast) == len(reference) == len(_events())
    for got, want in zip(fast, reference):
        assert got == want


def test_a_batch_handed_over_as_columns_stores_what_rows_store(db: Database) -> None:
    """A writer process gets the events column by column (StoreBatch.columns) and MariaDB's statements are built
    from those columns, not from the rows transposed back: same rows stored as through the rows, on every
    engine; the columns given alongside the rows are the rows' own values."""
    from netwarden.store.events import event_columns
    from netwarden.store.writer import StoreBatch, write_batch

    reference = _store(db, fast=True)
    evs = _events()
    writer = EventWriter(db.engine.dialect)
    rows, columns = writer.rows_and_columns(event_columns(evs), None, list(range(len(evs))))
    assert columns is not None and [tuple(c) for c in columns] == list(zip(*rows))
    with db.engine.begin() as conn:
        source_id = source_store.all_sources(conn)[0]["id"]
        conn.execute(events.delete())
        write_batch(conn, writer, StoreBatch(columns=event_columns(evs), source_id=source_id,
                                             line_numbers=[i * 2**40 for i in range(len(evs))]))
    assert _stored(db) == reference


def _store_as_columns(db: Database, evs: list[Event]) -> list[dict]:
    """``evs`` stored as a writer process stores them: handed over column by column (on SQLite, narrow rows)."""
    from netwarden.store.events import event_columns
    from netwarden.store.writer import StoreBatch, write_batch

    with db.engine.begin() as conn:
        source_id = source_store.all_sources(conn)[0]["id"]
        conn.execute(events.delete())
        write_batch(conn, EventWriter(conn.dialect), StoreBatch(
            columns=event_columns(evs), source_id=source_id, line_numbers=[i * 2**40 for i in range(len(evs))]))
    return _stored(db)


def test_columns_null_in_every_row_of_a_batch_are_stored_as_null(db: Database) -> None:
    """The MariaDB path and SQLite's narrow rows leave such columns out of their INSERTs (they get their default,
    NULL): rows as bound, whichever columns a batch fills (a statement per set of columns)."""
    access = [e for e in _events() if e.source_kind == "access_log"]
    zeek = Event(timestamp=T0, source_kind="zeek", dst_port=53, packets_in=7)
    for evs in (access * 3, [*access, zeek], [zeek], access * 2):
        reference = _store(db, fast=False, evs=evs)
        assert _store(db, fast=True, evs=evs) == reference
        assert _store_as_columns(db, evs) == reference
        assert all(r["observer"] is None and r["tcp_flags"] is None for r in reference)
        assert any(r["url"] is not None for r in reference) == (evs != [zeek])


def test_every_field_reads_back_as_it_went_in(db: Database) -> None:
    stored = _store(db, fast=True)
    evs = _events()
    assert len(stored) == len(evs)
    for event, row in zip(evs, stored):
        expected = event_row(event, row["source_id"], row["line_no"])  # cleaned and cut, as documented
        assert row["timestamp"] == event.timestamp.astimezone(UTC)
        for name in EVENT_FIELDS:
            if name in ("timestamp", "duration"):
                continue
            assert row[name] == expected[name], name
        assert row["duration"] == event.duration  # 8 bytes everywhere (MariaDB's was a 4-byte FLOAT)
        assert row["src_addr"] == expected["src_addr"] and row["dst_addr"] == expected["dst_addr"]
    by_message = {r["message"]: r for r in stored}
    for text in NASTY:  # independent of event_row: the text itself
        assert by_message[text]["raw"] == text and by_message[text]["extra"] == {"text": text, text: [text]}
    edge = stored[len(NASTY) + 1]
    assert (edge["bytes_out"], edge["bytes_in"], edge["dst_port"], edge["http_status"]) == \
        (2**63 - 1, -(2**63), 2**31 - 1, 32767)
    assert edge["timestamp"] == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert stored[len(NASTY)]["extra"] is None and stored[len(NASTY)]["message"] is None
    cleaned = stored[-1]
    assert cleaned["message"] == "nul\\x00here" and cleaned["user"] == "lone \\ud800"
    assert cleaned["extra"] == {"s": "\\udc80"} and cleaned["label"] == "L" * 128
    assert [r["line_no"] for r in stored] == [i * 2**40 for i in range(len(evs))]


@on_mariadb
@pytest.mark.parametrize("chunks", [(400, 2_000), (1, 1), (3, 5)], ids=["one chunk", "a row each", "small"])
def test_mysql_statements_are_split_and_keep_every_row(db: Database, monkeypatch: pytest.MonkeyPatch,
                                                       chunks: tuple[int, int]) -> None:
    monkeypatch.setattr(bulk, "MYSQL_STATEMENT_CHARS", 2_000)  # a few rows per statement
    monkeypatch.setattr(bulk, "_FIRST_ROWS", chunks[0])  # rows built before the first statement goes
    monkeypatch.setattr(bulk, "_ROWS_AT_ONCE", chunks[1])
    reference = _store(db, fast=False)
    assert _store(db, fast=True) == reference


@on_mariadb
@pytest.mark.parametrize("longest_hex", [1 << 20, 0, 10], ids=["hex", "quoted", "both"])
def test_mysql_literals_follow_no_backslash_escapes(db: Database, monkeypatch: pytest.MonkeyPatch,
                                                    longest_hex: int) -> None:
    """Text longer than _LONGEST_HEX goes quoted (escaped by the driver, as the session's sql_mode wants)."""
    monkeypatch.setattr(bulk, "_LONGEST_HEX", longest_hex)
    reference = _store(db, fast=False)
    assert _store(db, fast=True) == reference
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
        conn.commit()
        writer = EventWriter(conn.dialect)
        evs = _events()
        conn.execute(events.delete())
        source_id = reference[0]["source_id"]
        writer.insert(conn, writer.rows(evs, source_id, [i * 2**40 for i in range(len(evs))]))
        conn.commit()
        conn.exec_driver_sql("SET SESSION sql_mode = DEFAULT")
    assert _stored(db) == reference


@on_mariadb
@pytest.mark.parametrize(("bad", "message"), [({"http_status": 99_999}, "http_status"),
                                              ({"duration": float("nan")}, "nan")],
                         ids=["refused by the server", "refused while building"])
@pytest.mark.parametrize("binary_rows", [300, 3], ids=["text", "binary"])
def test_mysql_a_failing_statement_fails_the_batch_and_stores_none_of_it(
        db: Database, monkeypatch: pytest.MonkeyPatch, bad: dict, message: str, binary_rows: int) -> None:
    monkeypatch.setattr(bulk, "MYSQL_STATEMENT_CHARS", 2_000)  # the bad row is in a later statement
    monkeypatch.setattr(bulk, "_BINARY_ROWS", binary_rows)  # binary: statements after it are sent already
    evs = _events()
    evs.insert(len(evs) - 2, Event(timestamp=T0, source_kind="http", message="bad", **bad))
    writer = EventWriter(db.engine.dialect)
    with pytest.raises(Exception) as raised, db.engine.begin() as conn:
        writer.insert(conn, writer.rows(evs, None, [None] * len(evs)))
    assert message in str(raised.value)
    assert _stored(db) == []
    with db.engine.begin() as conn:  # the connection is usable again
        writer.insert(conn, writer.rows(evs[:3], None, [None] * 3))
    assert len(_stored(db)) == 3


@on_mariadb
def test_mariadb_durations_get_8_bytes_from_the_migration(db: Database) -> None:
    """Migration 0014: MariaDB's FLOAT duration read 86400.25 s back as 86400.2; DOUBLE keeps what was stored."""
    from alembic import command

    from netwarden.store.database import _alembic_config

    def alembic(action: str, target: str) -> None:
        with db.engine.begin() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            getattr(command, action)(cfg, target)

    alembic("downgrade", "0012")
    event = Event(timestamp=T0, source_kind="zeek", duration=86400.25)
    with db.engine.begin() as conn:
        writer = EventWriter(conn.dialect)
        writer.insert(conn, writer.rows([event], None, [None]))
    assert [r["duration"] for r in _stored(db)] == [86400.2]  # the 4-byte FLOAT, as it was read
    alembic("upgrade", "head")
    assert [r["duration"] for r in _stored(db)] == [86400.25]  # the stored float, now read whole
    with db.engine.begin() as conn:
        writer.insert(conn, writer.rows([Event(timestamp=T0, source_kind="zeek", duration=0.123456789)], None,
                                        [None]))
    assert [r["duration"] for r in _stored(db)] == [86400.25, 0.123456789]


def test_a_batch_naming_an_unknown_source_fails_whole(db: Database) -> None:
    """The foreign key of events.source_id holds on every path (on MariaDB checked once per batch, not by the
    server for each row)."""
    with db.engine.begin() as conn:
        source_id = source_store.create(conn, kind="file", name="fk", fmt="netwarden", first_line_sha="0" * 64,
                                        prefix_sha="0" * 64)
    evs = _events()
    writer = EventWriter(db.engine.dialect)
    with pytest.raises(Exception) as raised, db.engine.begin() as conn:
        writer.insert(conn, writer.rows(evs[:3], source_id, [1, 2, 3])
                      + writer.rows(evs[3:5], source_id + 1, [4, 5]))
    assert "foreign key" in str(raised.value).lower()
    assert _stored(db) == []
    with db.engine.begin() as conn:
        writer.insert(conn, writer.rows(evs[:3], source_id, [1, 2, 3]) + writer.rows(evs[3:5], None, [4, 5]))
    assert [r["source_id"] for r in _stored(db)] == [source_id] * 3 + [None] * 2


@on_mariadb
def test_mariadb_a_source_being_written_cannot_be_deleted_under_the_batch(db: Database) -> None:
    """With the server's check of each row skipped, a delete of the source still waits for the batch's commit
    (and then sets the events' source_id to NULL): events never point at a source that is gone."""
    from sqlalchemy import text

    from netwarden.store.schema import ingest_sources

    with db.engine.begin() as conn:
        source_id = source_store.create(conn, kind="file", name="lock", fmt="netwarden", first_line_sha="0" * 64,
                                        prefix_sha="0" * 64)
    writer = EventWriter(db.engine.dialect)
    with db.engine.connect() as writing, db.engine.connect() as deleting:
        writer.insert(writing, writer.rows(_events()[:2], source_id, [1, 2]))  # not committed yet
        assert writing.exec_driver_sql("SELECT @@foreign_key_checks").scalar() == 1  # for those statements only
        deleting.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
        with pytest.raises(Exception, match="Lock wait timeout"):
            deleting.execute(ingest_sources.delete().where(ingest_sources.c.id == source_id))
        deleting.rollback()
        writing.commit()
        deleting.execute(ingest_sources.delete().where(ingest_sources.c.id == source_id))
        deleting.commit()
        assert deleting.execute(text("SELECT COUNT(*) FROM events WHERE source_id IS NULL")).scalar() == 2


def test_mysql_column_literals_are_each_values_own_literal() -> None:
    """A text column's literals made at once give, value for value, each value's own literal: random mixes of
    the characters that need escaping in quoted SQL, NULLs, empty text, and a NUL."""
    import random

    literals = bulk._MYSQL_LITERALS
    rng = random.Random(14)
    alphabet = "ab'\"\\\n\r\x1a\t\x00 %é😀"
    rows = [(T0.replace(tzinfo=None) + timedelta(seconds=i // 3),
             *(rng.choice([None, "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))]) for _ in range(3)),
             rng.choice([None, 1, -2**63, 2.5]), "x" * i, b"\x00'\\" if i % 2 else None) for i in range(500)]
    for batch in (rows, [*rows[:10], (T0.replace(tzinfo=None), "nul\x00", None, None, None, "", None)]):
        each = [",".join(literals[type(v)](v) for v in row) for row in batch]
        assert bulk._mysql_rows(list(zip(*batch)), literals.get, str) == each


def test_mysql_statements_are_cut_between_rows_within_their_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row sent once, in order, in statements of at most MYSQL_STATEMENT_CHARS characters (a longer row
    alone); what is left over fits in one statement."""
    import random

    monkeypatch.setattr(bulk, "MYSQL_STATEMENT_CHARS", 300)
    rng = random.Random(14)
    head = "INSERT INTO t (a) VALUES "
    for _ in range(200):
        rows = [str(i) * rng.choice([1, 5, 40, 100, 400]) for i in range(rng.randint(0, 30))]
        sent: list[str] = []
        left = bulk._send_full(sent.append, head, rows)
        assert bulk._statement(head, left) and len(bulk._statement(head, left)) <= 300 or not left
        again = []
        for statement in sent:
            assert statement.startswith(head + "(") and statement.endswith(")")
            body = statement[len(head) + 1:-1].split("),(")
            assert len(statement) <= 300 or len(body) == 1
            again += body
        assert again + left == rows


def test_mysql_text_reaches_the_sql_only_as_hex() -> None:
    """No character of logged text is spliced into the statement: each text value is X'..' of its UTF-8 bytes
    (or NULL), which decodes back to the value."""
    import re

    texts = [*NASTY, "nul\x00", None, "😀" * 3]
    literals = bulk._mysql_rows([texts], bulk._MYSQL_LITERALS.get, str)
    for text, literal in zip(texts, literals):
        if text is None:
            assert literal == "NULL"
            continue
        hexed = re.fullmatch(r"X'([0-9a-f]*)'", literal)
        assert hexed is not None and bytes.fromhex(hexed.group(1)).decode() == text


@on_mariadb
def test_mariadb_text_columns_of_events_are_utf8mb4(db: Database) -> None:
    """The hex literals are the UTF-8 bytes of the text, stored as they are: right only in utf8mb4 columns
    (whatever the database's default character set)."""
    with db.engine.connect() as conn:
        charsets = set(conn.exec_driver_sql(
            "SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = 'events' AND CHARACTER_SET_NAME IS NOT NULL").scalars())
    assert charsets == {"utf8mb4"}


@on_mariadb
def test_mysql_an_early_statement_refused_on_the_sending_thread_fails_the_batch(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Statements but the last run on a sending thread: a refusal of the first one reaches the caller, the
    statements after it are not sent, and the connection is usable again."""
    monkeypatch.setattr(bulk, "MYSQL_STATEMENT_CHARS", 2_000)
    evs = [Event(timestamp=T0, source_kind="http", message="bad", http_status=99_999), *_events()]
    writer = EventWriter(db.engine.dialect)
    with pytest.raises(Exception, match="http_status"), db.engine.begin() as conn:
        writer.insert(conn, writer.rows(evs, None, [None] * len(evs)))
    assert _stored(db) == []
    with db.engine.begin() as conn:
        writer.insert(conn, writer.rows(evs[1:], None, [None] * (len(evs) - 1)))
    assert len(_stored(db)) == len(evs) - 1


on_postgresql = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=[] if "postgresql" in ENGINES else [
        pytest.mark.skip(reason="PostgreSQL is not in NETWARDEN_TEST_ENGINES")])], indirect=True)


@on_postgresql
def test_postgresql_a_source_being_written_cannot_be_deleted_under_the_batch(db: Database) -> None:
    """Without the foreign key (migration 0015) a delete of the source still waits for the batch's commit (the
    writer holds FOR KEY SHARE on it), then the trigger sets the batch's events' source_id to NULL."""
    from sqlalchemy import text

    from netwarden.store.schema import ingest_sources

    with db.engine.begin() as conn:
        source_id = source_store.create(conn, kind="file", name="lock", fmt="netwarden", first_line_sha="0" * 64,
                                        prefix_sha="0" * 64)
        other = source_store.create(conn, kind="file", name="other", fmt="netwarden", first_line_sha="1" * 64,
                                    prefix_sha="1" * 64)
    writer = EventWriter(db.engine.dialect)
    assert writer.pg_parents  # the check runs in the writer, not in the server
    with db.engine.connect() as writing, db.engine.connect() as deleting:
        assert not writing.execute(text(
            "SELECT COUNT(*) FROM pg_constraint WHERE conrelid = 'events'::regclass AND contype = 'f'")).scalar()
        writer.insert(writing, writer.rows(_events()[:2], source_id, [1, 2]) + writer.rows(_events()[:1], other, [1]))
        deleting.exec_driver_sql("SET lock_timeout = '1s'")
        with pytest.raises(Exception, match="lock timeout"):
            deleting.execute(ingest_sources.delete().where(ingest_sources.c.id == source_id))
        deleting.rollback()
        writing.commit()
        deleting.execute(ingest_sources.delete().where(ingest_sources.c.id == source_id))
        deleting.commit()
        assert deleting.execute(text("SELECT source_id FROM events ORDER BY id")).scalars().all() == [
            None, None, other]


@on_mariadb
@pytest.mark.parametrize("rows", [1, 4, 7, 100], ids=["a row each", "four", "seven", "none: too few rows"])
def test_mysql_binary_statements_store_what_driver_binding_stores(db: Database, monkeypatch: pytest.MonkeyPatch,
                                                                  rows: int) -> None:
    """Prepared statements of ``rows`` rows of binary values, the rows left over as text: every field as bound,
    in order (the ids follow the rows); chunks with a value of no binary form (a text over 64 KiB's length
    prefix, a tz-aware time never reaches here) go as text in their place."""
    monkeypatch.setattr(bulk, "_BINARY_ROWS", rows)
    reference = _store(db, fast=False)
    assert _store(db, fast=True) == reference
    evs = [*_events(), Event(timestamp=T0, source_kind="http", message="x" * 70_000 + "😀", bytes_out=2**62)]
    assert _store(db, fast=True, evs=evs) == _store(db, fast=False, evs=evs)


@on_mariadb
@pytest.mark.parametrize("values", [[None, None], ["a", None], [b"\x00\xff", None], [1, -(2**63)], [2**63, 1],
                                    [1.5, None], [float("nan"), 1.0], [True, False], [1, "a"]])
def test_mysql_binary_column_forms(db: Database, values: list) -> None:
    """A column goes binary only if every value has the same exact binary form; else None (text literals)."""
    encoded = bulk._binary_column(values)
    kinds = {type(v) for v in values} - {type(None)}
    exact = len(kinds) <= 1 and kinds <= {str, bytes, int, float} and all(
        -(2**63) <= v < 2**63 for v in values if type(v) is int) and all(
        v == v for v in values if type(v) is float)
    assert (encoded is not None) == exact
    if encoded is not None:
        assert encoded[2] == [i for i, v in enumerate(values) if v is None]


@on_mariadb
def test_mysql_a_statement_the_server_will_not_prepare_goes_as_text(db: Database,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """More placeholders than the protocol counts: the server refuses to prepare it, the rows go as literals."""
    monkeypatch.setattr(bulk, "_MAX_PARAMS", 10**9)
    monkeypatch.setattr(bulk, "_BINARY_ROWS", 3_000)
    evs = [e for e in _events() if len(e.message or "") < 1_000] * 100
    prepared = []
    monkeypatch.setattr(bulk._Prepared, "send", lambda self, body: prepared.append(body))
    assert _store(db, fast=True, evs=evs) == _store(db, fast=False, evs=evs)
    assert prepared == []


@on_mariadb
def test_mysql_rows_of_no_binary_form_go_as_text_in_their_place(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Binary statements written ahead of their replies, then a chunk as text literals (a bool among ints), then
    binary again: every row, in order."""
    monkeypatch.setattr(bulk, "_BINARY_ROWS", 2)
    rows = [(i, True if i == 3 else i) for i in range(9)]
    with db.engine.connect() as conn:
        conn.exec_driver_sql("CREATE TEMPORARY TABLE bulk_t (id BIGINT AUTO_INCREMENT PRIMARY KEY, a BIGINT, b BIGINT)")
        bulk.mysql_insert(conn.connection.driver_connection, "bulk_t", ["a", "b"], rows)
        assert [tuple(r) for r in conn.exec_driver_sql("SELECT a, b FROM bulk_t ORDER BY id")] == \
            [(i, 1 if i == 3 else i) for i in range(9)]
        conn.rollback()


def _temp_table_rows(db: Database, charset: str, ddl: str, columns: list[str], rows: list[tuple],
                     select: str) -> list[tuple]:
    """``rows`` through mysql_insert into a temporary table, on a connection in ``charset``."""
    from sqlalchemy import create_engine

    engine = create_engine(db.engine.url.update_query_dict({"charset": charset}))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE bulk_t (id BIGINT AUTO_INCREMENT PRIMARY KEY, {ddl}) "
                                 "CHARACTER SET utf8mb4")
            bulk.mysql_insert(conn.connection.driver_connection, "bulk_t", columns, rows)
            return [tuple(r) for r in conn.exec_driver_sql(select)]
    finally:
        engine.dispose()


@on_mariadb
@pytest.mark.parametrize("charset", ["utf8mb4", "utf8", "latin1"])
def test_mysql_text_is_stored_as_its_utf8_whatever_the_connections_charset(
        db: Database, monkeypatch: pytest.MonkeyPatch, charset: str) -> None:
    """A URL may name its own charset (normalise_url adds utf8mb4 only when it names none): the hex literals
    stored each text's UTF-8 as it is on any; binary text values are the connection's charset, so a 4-byte
    character was refused on utf8 (utf8mb3) and every accent turned to mojibake on latin1."""
    monkeypatch.setattr(bulk, "_BINARY_ROWS", 2)
    texts = ["héllo 😀", "x", "ü", "漢字", "plain"]
    got = _temp_table_rows(db, charset, "a TEXT", ["a"], [(t,) for t in texts],
                           "SELECT HEX(a) FROM bulk_t ORDER BY id")
    assert got == [(t.encode().hex().upper(),) for t in texts]


@on_mariadb
def test_mysql_binary_times_with_a_null_first(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A time column whose chunk starts with NULLs: NULL, then the times (a NULL first was no bytes at all)."""
    monkeypatch.setattr(bulk, "_BINARY_ROWS", 3)
    when = datetime(2026, 12, 5, 11, 0, 0, 123456)
    rows = [(None,), (None,), (when,), (when,), (None,), (datetime(1, 1, 1),)]
    got = _temp_table_rows(db, "utf8mb4", "t DATETIME(6)", ["t"], rows, "SELECT t FROM bulk_t ORDER BY id")
    assert got == rows


@on_mariadb
@pytest.mark.parametrize("where", ["writing", "reading"])
def test_mysql_an_execution_cut_short_leaves_no_connection_to_reuse(db: Database, monkeypatch: pytest.MonkeyPatch,
                                                                    where: str) -> None:
    """Ctrl-C while an execution is half written: the connection's stream is out of step with the server (the
    rest of the packet is missing), so it is closed rather than left to carry the ROLLBACK, which the server
    would read as the packet's rest (and the client wait for its reply for ever). Or the connection is lost while
    replies are read. The caller gets that error (not the ROLLBACK's), and the pool's next connection stores."""
    import threading

    from pymysql.connections import Connection
    from pymysql.err import OperationalError

    monkeypatch.setattr(bulk, "_BINARY_ROWS", 3)
    writer = EventWriter(db.engine.dialect)
    evs = _events()
    write, read = Connection._write_bytes, Connection._read_bytes
    executions: list[bytes] = []
    replies: list[int] = []

    def cut_write(self: Connection, data: bytes) -> None:
        if data[4:5] == b"\x17" and len(executions) < 2:  # COM_STMT_EXECUTE: the second is cut in half
            executions.append(data)
            if len(executions) == 2:
                write(self, data[:len(data) // 2])
                raise KeyboardInterrupt
        write(self, data)

    def cut_read(self: Connection, n: int) -> bytes:
        if threading.current_thread().name == "netwarden-mysql-replies" and len(replies) < 3:
            replies.append(n)
            if len(replies) == 3:  # the second reply's header: the connection is lost (as PyMySQL does it)
                self._force_close()
                raise OperationalError(2013, "Lost connection to MySQL server during query")
        return read(self, n)

    if where == "writing":
        monkeypatch.setattr(Connection, "_write_bytes", cut_write)
    else:
        monkeypatch.setattr(Connection, "_read_bytes", cut_read)
    raws = []
    with pytest.raises(KeyboardInterrupt if where == "writing" else OperationalError), db.engine.begin() as conn:
        raws.append(conn.connection.driver_connection)
        writer.insert(conn, writer.rows(evs, None, [None] * len(evs)))
    assert not raws[0].open
    with db.engine.begin() as conn:
        writer.insert(conn, writer.rows(evs, None, [None] * len(evs)))
    assert len(_stored(db)) == len(evs)


class _Interrupting:
    """A statement or reply queue whose second ``put`` (of a statement, not of the end) raises KeyboardInterrupt,
    as Ctrl-C would, after queueing the item or before."""

    def __init__(self, queue, *, after_put: bool) -> None:  # type: ignore[no-untyped-def]
        self.queue, self.after_put, self.puts = queue, after_put, 0

    def get(self):  # type: ignore[no-untyped-def]
        return self.queue.get()

    def put(self, item) -> None:  # type: ignore[no-untyped-def]
        self.puts += 1
        if self.after_put:
            self.queue.put(item)
        if self.puts == 2 and item is not None:
            raise KeyboardInterrupt
        if not self.after_put:
            self.queue.put(item)


def _insert_interrupted(db: Database, writer: EventWriter, evs: list) -> list[BaseException]:
    """Insert ``evs`` in a thread of its own; what it raised. Without the fix under test it never ends: past 60 s
    its session is killed (a failure, not a hang: its transaction would keep the next test's DROP TABLE waiting)."""
    import threading

    done: list[BaseException] = []
    session: list[int] = []

    def run() -> None:
        try:
            with db.engine.begin() as conn:
                session.append(conn.connection.driver_connection.thread_id())
                writer.insert(conn, writer.rows(evs, None, [None] * len(evs)))
        except BaseException as exc:
            done.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)  # not a timing: without the fix it never ends
    if thread.is_alive():
        with db.engine.connect() as conn:
            conn.exec_driver_sql(f"KILL {int(session[0])}")
    return done


@on_mariadb
def test_mysql_an_interrupt_between_expecting_a_reply_and_writing_its_execution(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the reply thread was told to expect an execution's reply but before the execution was
    written: the thread would wait for a reply that never comes (and the caller with it, for ever); the
    connection is closed instead and the interrupt reaches the caller."""
    monkeypatch.setattr(bulk, "_BINARY_ROWS", 3)
    writer = EventWriter(db.engine.dialect)
    made = bulk._Prepared.__init__

    def init(self, *a) -> None:  # type: ignore[no-untyped-def]
        made(self, *a)
        self.expected = _Interrupting(self.expected, after_put=True)

    monkeypatch.setattr(bulk._Prepared, "__init__", init)
    done = _insert_interrupted(db, writer, _events())
    assert done and isinstance(done[0], KeyboardInterrupt)


@on_mariadb
def test_mysql_an_interrupt_between_marking_a_statement_running_and_queueing_it(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the statement thread was marked busy but before its statement was queued: nothing would mark
    it idle again, and the caller's wait for it (before it raises) lasted for ever. The interrupt reaches the
    caller, and the connection still works."""
    monkeypatch.setattr(bulk, "MYSQL_STATEMENT_CHARS", 2_000)  # several text statements, through the thread
    writer = EventWriter(db.engine.dialect)
    evs = _events()
    made = bulk._Sender.__init__

    def init(self, *a) -> None:  # type: ignore[no-untyped-def]
        made(self, *a)
        self.jobs = _Interrupting(self.jobs, after_put=False)  # raises before the statement is queued

    monkeypatch.setattr(bulk._Sender, "__init__", init)
    done = _insert_interrupted(db, writer, evs)
    assert done and isinstance(done[0], KeyboardInterrupt)
    assert _stored(db) == []
    monkeypatch.setattr(bulk._Sender, "__init__", made)
    with db.engine.begin() as conn:
        writer.insert(conn, writer.rows(evs, None, [None] * len(evs)))
    assert len(_stored(db)) == len(evs)


def test_only_sqlite_rows_are_narrowed_and_insert_tells_them_apart() -> None:
    """Columns come with the rows on every engine (a writer process's batches); only SQLite's rows leave out the
    empty columns, and its insert reads full rows given with their columns (``narrow=False``) as full. A server
    driver other than the bulk paths' (psycopg2, mysqlclient: kept when named in the URL) binds full rows."""
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    from netwarden.store.events import _COLUMNS, event_columns

    class Recorder:
        def exec_driver_sql(self, sql: str, rows: list[tuple]) -> None:
            self.sql, self.rows = sql, rows

    evs = [Event(timestamp=T0, source_kind="auth", src_ip="203.0.113.9", user="root", message="m")] * 3
    for dialect, narrow in ((postgresql.psycopg2.dialect(), False), (mysql.mysqldb.dialect(), False),
                            (sqlite.dialect(), True)):
        writer = EventWriter(dialect)
        for asked in (True, False):
            rows, columns = writer.rows_and_columns(event_columns(evs), None, [1, 2, 3], narrow=asked)
            conn = Recorder()
            writer.insert(conn, rows, columns)  # type: ignore[arg-type]
            narrowed = narrow and asked
            assert len(conn.rows[0]) == (7 if narrowed else len(_COLUMNS)), dialect.name  # 7: time, kind, address
            # as text and key, user, message, line number
            assert conn.sql.count("%s" if dialect.paramstyle != "qmark" else "?") == len(conn.rows[0])
            assert (conn.sql == writer.sql) != narrowed, dialect.name


def test_times_handed_over_as_microseconds_are_stored_exactly(db: Database) -> None:
    """event_columns hands a writer process each time as microseconds since 1970 UTC (an int pickles in a few bytes,
    a datetime took ~1 µs to reduce): stored exactly as the reference stores the datetime, on every engine, whatever
    its offset, microseconds or era; equal times a pickle gives as distinct objects each make the same text."""
    import pickle

    from netwarden.store.events import event_columns
    from netwarden.store.writer import StoreBatch, write_batch

    plus2 = timezone(timedelta(hours=2, minutes=30))
    times = [datetime(2026, 11, 20, 8, 0, 1, 123456, tzinfo=timezone.utc),
             datetime(2026, 11, 20, 10, 30, 1, 999999, tzinfo=plus2),  # the same instant's second, another offset
             datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=timezone.utc),
             datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc), datetime(2001, 2, 3, 4, 5, 6, 7),  # naive
             datetime(2026, 11, 20, 8, 0, 1, 123456, tzinfo=timezone.utc)]  # equal to the first, another object
    evs = [Event(timestamp=t, source_kind="syslog", message=f"m{i}") for i, t in enumerate(times)]
    reference = _store(db, fast=False, evs=evs)
    columns = pickle.loads(pickle.dumps(event_columns(evs)))
    assert all(type(t) is int for t in columns[EVENT_FIELDS.index("timestamp")])
    with db.engine.begin() as conn:
        source_id = source_store.all_sources(conn)[0]["id"]
        conn.execute(events.delete())
        write_batch(conn, EventWriter(conn.dialect), StoreBatch(
            columns=columns, source_id=source_id, line_numbers=[i * 2**40 for i in range(len(evs))]))
    got = _stored(db)
    assert [r["timestamp"] for r in got] == [r["timestamp"] for r in reference]
    assert [r["timestamp"] for r in got] == [(t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
                                             for t in times]
