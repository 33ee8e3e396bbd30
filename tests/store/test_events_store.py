"""Storing and finding events on every engine: EventFilter queries, hostile content, rollups."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from netwarden.pipeline import Pipeline
from netwarden.records import Event
from netwarden.store.database import Database
from netwarden.store.events import EventFilter, find_events, insert_events, iter_all
from netwarden.store.schema import events, rollups

pytestmark = pytest.mark.engines

UTC = timezone.utc


def line(**fields: object) -> str:
    fields.setdefault("timestamp", "2026-01-01T00:00:00Z")
    fields.setdefault("source_kind", "syslog")
    return json.dumps(fields)


# one event per tag (kept in `observer`), chosen so that every filter has hits and misses
EVENTS = [
    line(observer="v4a", timestamp="2026-01-01T00:00:00Z", source_kind="access_log", src_ip="10.0.0.1",
         src_port=40000, dst_ip="192.0.2.10", dst_port=80, transport="tcp", http_method="GET",
         url="/index.html", http_status=200, user_agent="curl/8.0", label="normal"),
    line(observer="v4b", timestamp="2026-01-01T01:00:00Z", source_kind="auth", src_ip="10.1.2.3",
         dst_ip="198.51.100.7", dst_port=22, transport="tcp", user="root",
         message="Failed password for root from 10.1.2.3", label="bruteforce"),
    line(observer="v6a", timestamp="2026-01-02T00:00:00Z", source_kind="zeek", src_ip="2001:db8::1",
         src_port=51000, dst_ip="2001:db8:1::5", dst_port=443, transport="tcp", bytes_out=100, bytes_in=900),
    line(observer="mapped", timestamp="2026-01-02T12:00:00Z", source_kind="zeek", src_ip="::ffff:192.168.1.5",
         src_port=53, dst_ip="10.0.0.2", dst_port=5353, transport="udp"),
    line(observer="pct", timestamp="2026-01-03T00:00:00Z", source_kind="access_log", src_ip="203.0.113.9",
         url="/shop?deal=100%off", http_status=404, message="discount 100% off"),
    line(observer="nopct", timestamp="2026-01-03T00:00:01Z", source_kind="access_log", src_ip="203.0.113.9",
         url="/shop?deal=100xoff", http_status=404, message="discount 100 off"),
    line(observer="under", timestamp="2026-01-03T00:00:02Z", message="file_name.txt written"),
    line(observer="nounder", timestamp="2026-01-03T00:00:03Z", message="fileXname.txt written"),
    line(observer="quote", timestamp="2026-01-03T00:00:04Z", message="it's O'Brien \\ backslash"),
]
ALL = {json.loads(e)["observer"] for e in EVENTS}


@pytest.fixture
def stored(db: Database) -> Database:
    result = Pipeline(db).ingest_lines(EVENTS, "netwarden", source="test")
    assert result.events == len(EVENTS) and not result.quarantined
    return db


def tags(db: Database, **kwargs: object) -> set[str]:
    with db.engine.connect() as conn:
        return {r["observer"] for r in find_events(conn, EventFilter(**kwargs), limit=1000)}  # type: ignore[arg-type]


def test_no_filter_finds_everything_newest_first(stored: Database) -> None:
    with stored.engine.connect() as conn:
        rows = find_events(conn, EventFilter(), limit=1000)
        assert [r["observer"] for r in rows][0] == "quote"
        assert [r["observer"] for r in rows][-1] == "v4a"
        assert [r["observer"] for r in find_events(conn, EventFilter(), limit=2, offset=1)] == ["nounder", "under"]
        oldest = find_events(conn, EventFilter(), limit=1, newest_first=False)
        assert oldest[0]["timestamp"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert tags(stored) == ALL


def test_time_range(stored: Database) -> None:
    assert tags(stored, since=datetime(2026, 1, 2, tzinfo=UTC)) == ALL - {"v4a", "v4b"}
    assert tags(stored, until=datetime(2026, 1, 2, tzinfo=UTC)) == {"v4a", "v4b"}
    # since is inclusive, until exclusive
    assert tags(stored, since=datetime(2026, 1, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 2, 12, tzinfo=UTC)) \
        == {"v4b", "v6a"}
    # an aware time in another zone means the same instant
    from datetime import timedelta
    plus2 = timezone(timedelta(hours=2))
    assert tags(stored, since=datetime(2026, 1, 1, 3, tzinfo=plus2), until=datetime(2026, 1, 1, 3, 0, 1, tzinfo=plus2)) \
        == {"v4b"}


def test_addresses_and_networks(stored: Database) -> None:
    assert tags(stored, src="10.0.0.1") == {"v4a"}
    assert tags(stored, src="10.0.0.0/8") == {"v4a", "v4b"}
    assert tags(stored, src="10.1.0.0/16") == {"v4b"}
    assert tags(stored, dst="10.0.0.0/8") == {"mapped"}
    assert tags(stored, address="10.0.0.0/8") == {"v4a", "v4b", "mapped"}
    assert tags(stored, dst="192.0.2.10/32") == {"v4a"}
    assert tags(stored, src="172.16.0.0/12") == set()
    # IPv6
    assert tags(stored, src="2001:db8::1") == {"v6a"}
    assert tags(stored, src="2001:db8::/32") == {"v6a"}
    assert tags(stored, dst="2001:db8:1::/48") == {"v6a"}
    assert tags(stored, address="2001:db8::/32") == {"v6a"}
    assert tags(stored, src="2001:db9::/32") == set()
    # an IPv6 network never catches IPv4 rows, and ::/0 covers both (one ordering for both families)
    assert tags(stored, src="2000::/3") == {"v6a"}
    assert tags(stored, src="0.0.0.0/0") == {"v4a", "v4b", "mapped", "pct", "nopct"}
    # IPv4-mapped IPv6 is stored as the IPv4 address, found by either spelling
    with stored.engine.connect() as conn:
        row = find_events(conn, EventFilter(src="192.168.1.5"))[0]
    assert row["src_ip"] == "192.168.1.5"
    assert tags(stored, src="192.168.1.0/24") == {"mapped"}
    assert tags(stored, src="::ffff:192.168.1.5") == {"mapped"}
    assert tags(stored, src="::ffff:192.168.0.0/112") == {"mapped"}


def test_bad_network_is_an_error_not_a_query(stored: Database) -> None:
    for bad in ("' OR 1=1 --", "10.0.0.0/33", "not-an-ip", ""):
        with pytest.raises(ValueError):
            tags(stored, src=bad or " ")


def test_port_kind_status_label(stored: Database) -> None:
    assert tags(stored, port=22) == {"v4b"}
    assert tags(stored, port=53) == {"mapped"}  # source port
    assert tags(stored, port=40000) == {"v4a"}
    assert tags(stored, port=0) == set()
    assert tags(stored, kind="zeek") == {"v6a", "mapped"}
    assert tags(stored, kind="access_log") == {"v4a", "pct", "nopct"}
    assert tags(stored, kind="netflow") == set()
    assert tags(stored, status=404) == {"pct", "nopct"}
    assert tags(stored, status=200) == {"v4a"}
    assert tags(stored, label="bruteforce") == {"v4b"}
    assert tags(stored, label="' OR 1=1 --") == set()
    # filters combine with AND
    assert tags(stored, kind="access_log", status=404, src="203.0.113.0/24") == {"pct", "nopct"}
    assert tags(stored, kind="auth", src="10.0.0.1") == set()


def test_free_text(stored: Database) -> None:
    assert tags(stored, text="Failed password") == {"v4b"}
    assert tags(stored, text="curl/8") == {"v4a"}  # user agent
    assert tags(stored, text="index.html") == {"v4a"}  # url
    assert tags(stored, text="root") == {"v4b"}  # message and user
    # % and _ are literal, not wildcards
    assert tags(stored, text="100%") == {"pct"}
    assert tags(stored, text="100%off") == {"pct"}
    assert tags(stored, text="%") == {"pct"}
    assert tags(stored, text="file_name") == {"under"}
    assert tags(stored, text="_") == {"under"}
    # quotes and backslashes are plain characters
    assert tags(stored, text="O'Brien") == {"quote"}
    assert tags(stored, text="\\ back") == {"quote"}
    assert tags(stored, text="\\") == {"quote"}
    # SQL in the search text is just text that matches nothing
    assert tags(stored, text="' OR 1=1 --") == set()
    assert tags(stored, text="'; DROP TABLE events; --") == set()
    assert tags(stored) == ALL


def test_free_text_ignores_case_on_every_engine(stored: Database) -> None:
    # SQLite's and MariaDB's LIKE ignore (ASCII) case, PostgreSQL's does not: the search must not
    # give different answers on different engines
    assert tags(stored, text="failed PASSWORD") == {"v4b"}
    assert tags(stored, text="INDEX.HTML") == {"v4a"}


# -- hostile content, byte-exact on every engine ----------------------------------------------------


def _stored_rows(db: Database) -> list[dict]:
    with db.engine.connect() as conn:
        return list(iter_all(conn))


def test_hostile_text_survives_storage(db: Database) -> None:
    emoji = "smile 😀 clef 𝄞 flag 🇩🇪 cjk 漢字 rtl \u202e combining e\u0301"
    hostile = [
        line(observer="nul", message="before\u0000after", url="/a\u0000b"),
        line(observer="emoji", message=emoji, user="ü😀", user_agent="Mozilla 😀", extra={"k😀": "v😀"}),
        line(observer="surrogate", message="lone \ud800 high and \udfff low", extra={"s": "\udc80"}),
        line(observer="control", message="tab\tbell\x07esc\x1b[31m del\x7f crlf\r\n end"),
        line(observer="sql", message="' OR 1=1 --; DROP TABLE events; \\' \"", label="'; --"),
    ]
    result = Pipeline(db).ingest_lines(hostile, "netwarden")
    assert result.events == len(hostile), result.quarantined
    rows = {r["observer"]: r for r in _stored_rows(db)}
    assert rows["nul"]["message"] == "before\\x00after"  # PostgreSQL refuses NUL: kept visibly escaped
    assert rows["nul"]["url"] == "/a\\x00b"
    assert rows["emoji"]["message"] == emoji  # 4-byte UTF-8: utf8mb4 on MariaDB
    assert rows["emoji"]["user"] == "ü😀"
    assert rows["emoji"]["user_agent"] == "Mozilla 😀"
    assert rows["emoji"]["extra"] == {"k😀": "v😀"}
    assert rows["surrogate"]["message"] == "lone \\ud800 high and \\udfff low"
    assert rows["surrogate"]["extra"] == {"s": "\\udc80"}
    assert rows["control"]["message"] == "tab\tbell\x07esc\x1b[31m del\x7f crlf\r\n end"
    assert rows["sql"]["message"] == "' OR 1=1 --; DROP TABLE events; \\' \""
    assert rows["sql"]["label"] == "'; --"
    assert len(rows) == len(hostile)  # nothing else appeared, nothing was dropped
    # and they are found by their content
    assert tags(db, text="😀") == {"emoji"}
    assert tags(db, text="😺") == set()  # another 4-byte character is not the same one
    assert tags(db, text="𝄞 flag") == {"emoji"}
    assert tags(db, text="\\x00") == {"nul"}
    assert tags(db, label="'; --") == {"sql"}


def test_long_values_survive_storage(db: Database) -> None:
    url = "/search?q=" + "A1b2" * 15_000  # 60 KB
    message = "m" * 60_000 + "😀"
    event = Event(timestamp=datetime(2026, 1, 1, tzinfo=UTC), source_kind="http", url=url, message=message,
                  raw=url + message, src_ip="192.0.2.1")
    with db.engine.begin() as conn:
        insert_events(conn, [event])
    (row,) = _stored_rows(db)
    assert row["url"] == url
    assert row["message"] == message
    assert row["raw"] == url + message
    # fields with a column limit are cut, not refused
    event = Event(timestamp=datetime(2026, 1, 1, tzinfo=UTC), source_kind="http", label="L" * 500,
                  observer="o" * 400, http_method="X" * 100)
    with db.engine.begin() as conn:
        insert_events(conn, [event])
    row = _stored_rows(db)[-1]
    assert row["label"] == "L" * 128 and row["observer"] == "o" * 255 and row["http_method"] == "X" * 32


def test_60kb_access_log_line_kept_whole_in_raw(db: Database, tmp_path: Path) -> None:
    url = "/" + "x" * 61_000
    raw = f'192.0.2.1 - - [17/May/2015:10:05:03 +0000] "GET {url} HTTP/1.1" 200 5 "-" "agent"'
    path = tmp_path / "big.log"
    path.write_text(raw + "\n")
    result = Pipeline(db).ingest_file(path, "access_log")
    assert result.events == 1 and not result.quarantined
    (row,) = _stored_rows(db)
    assert row["raw"] == raw
    assert url.startswith(row["url"]) and len(row["url"]) >= 8192


def test_invalid_utf8_in_a_file_is_kept_escaped(db: Database, tmp_path: Path) -> None:
    good = b'192.0.2.1 - - [17/May/2015:10:05:03 +0000] "GET /ok HTTP/1.1" 200 5 "-" "agent"\n'
    bad = b'192.0.2.2 - - [17/May/2015:10:05:04 +0000] "GET /caf\xe9 HTTP/1.1" 200 5 "-" "bad \xff\xfe agent"\n'
    path = tmp_path / "latin1.log"
    path.write_bytes(good + bad)
    result = Pipeline(db).ingest_file(path)
    assert result.format == "access_log"
    assert result.events == 2 and result.bad_utf8 == 1 and not result.quarantined
    rows = sorted(_stored_rows(db), key=lambda r: r["line_no"])
    assert rows[0]["extra"].get("invalid_utf8") is None
    assert rows[1]["extra"]["invalid_utf8"] is True
    assert rows[1]["url"] == "/caf\\xe9"
    assert rows[1]["user_agent"] == "bad \\xff\\xfe agent"
    assert rows[1]["raw"] == bad.rstrip(b"\n").decode("utf-8", "backslashreplace")


# -- rollups ----------------------------------------------------------------------------------------


def _minute_sql(db: Database):  # type: ignore[no-untyped-def]
    ts = events.c.timestamp
    if db.dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H:%M", ts)
    if db.dialect in ("mysql", "mariadb"):
        return func.date_format(ts, "%Y-%m-%d %H:%i")
    return func.to_char(func.date_trunc("minute", ts), "YYYY-MM-DD HH24:MI")


def rollups_from_events(db: Database) -> dict[tuple, tuple[int, int]]:
    """What the rollups must be, computed by the database itself from the stored events."""
    minute = _minute_sql(db).label("minute")
    transport = func.coalesce(events.c.transport, "").label("transport")
    port = func.coalesce(events.c.dst_port, -1).label("port")
    size = func.sum(func.coalesce(events.c.bytes_out, 0) + func.coalesce(events.c.bytes_in, 0))
    stmt = select(minute, events.c.source_kind, transport, port, func.count(), size) \
        .group_by(minute, events.c.source_kind, transport, port)
    with db.engine.connect() as conn:
        return {(m, k, t, int(p)): (int(n), int(b)) for m, k, t, p, n, b in conn.execute(stmt)}


def stored_rollups(db: Database) -> dict[tuple, tuple[int, int]]:
    with db.engine.connect() as conn:
        return {(r.minute.strftime("%Y-%m-%d %H:%M"), r.source_kind, r.transport, r.dst_port): (r.events, r.bytes)
                for r in conn.execute(select(rollups))}


def _traffic(n: int, start_minute: int = 0) -> list[str]:
    out = []
    for i in range(n):
        minute = start_minute + i // 7
        fields: dict = {"timestamp": f"2026-03-01T{minute // 60:02d}:{minute % 60:02d}:{i % 60:02d}.{i:06d}Z",
                        "source_kind": ("zeek", "netflow", "access_log")[i % 3]}
        if i % 4:
            fields["transport"] = ("tcp", "udp", "icmp")[i % 3]
        if i % 5:
            fields["dst_port"] = (22, 80, 443, 53)[i % 4]
        if i % 6:
            fields["bytes_out"] = i * 10
        if i % 2:
            fields["bytes_in"] = i * 1000 + 7
        out.append(json.dumps(fields))
    return out


def test_rollups_match_the_events_and_survive_reingest(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    path.write_text("\n".join(_traffic(300)) + "\n")
    pipeline = Pipeline(db, batch_size=64)  # several batches, each adding to the same buckets
    assert pipeline.ingest_file(path, "netwarden").events == 300
    expected = rollups_from_events(db)
    assert stored_rollups(db) == expected
    assert sum(n for n, _ in expected.values()) == 300
    assert any(key[2] == "" for key in expected) and any(key[3] == -1 for key in expected)
    # the same file again stores nothing and changes no counter
    again = pipeline.ingest_file(path, "netwarden")
    assert again.events == 0 and again.already_done
    assert stored_rollups(db) == expected
    # a second run (the file grew, overlapping minutes) adds up
    with path.open("a") as f:
        f.write("\n".join(_traffic(100, start_minute=40)) + "\n")
    assert pipeline.ingest_file(path, "netwarden").events == 100
    grown = stored_rollups(db)
    assert grown == rollups_from_events(db)
    assert sum(n for n, _ in grown.values()) == 400
    assert any(grown[k][0] > expected[k][0] for k in expected if k in grown)  # shared buckets grew
    # and lines from elsewhere (ingest_lines) keep them in step too
    Pipeline(db).ingest_lines(_traffic(20, start_minute=5), "netwarden")
    assert stored_rollups(db) == rollups_from_events(db)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.sum(rollups.c.events))).scalar_one() == 420


def test_rollups_of_a_real_zeek_log(db: Database, datasets: Path) -> None:
    result = Pipeline(db).ingest_file(datasets / "zeek-conn-logs" / "test9-mixed_conn.log")
    assert result.events == 576
    expected = rollups_from_events(db)
    assert stored_rollups(db) == expected
    assert sum(n for n, _ in expected.values()) == 576
    assert sum(b for _, b in expected.values()) > 0


def test_rollups_counted_from_writer_rows_are_the_events_own() -> None:
    """The writer process counts rollups from its rows or columns (SQLite's text times, the servers' naive UTC datetimes):
    the same buckets as counting the events, with times in other zones, over-long transports and missing
    ports and sizes."""
    from datetime import timedelta

    from sqlalchemy.dialects import postgresql, sqlite

    from netwarden.store.events import EventWriter
    from netwarden.store.events import event_columns
    from netwarden.store.rollups import rollup_counts, rollup_counts_from_columns, rollup_counts_from_rows

    zone = timezone(timedelta(hours=-3, minutes=-30))
    evs = [Event(timestamp=datetime(2026, 3, 1, 23, i % 120 // 2 % 60, i % 60, i, tzinfo=UTC if i % 3 else zone),
                 source_kind=("zeek", "netflow")[i % 2], transport=(None, "tcp", "x" * 20)[i % 3],
                 dst_port=None if i % 5 == 0 else i % 4, bytes_out=None if i % 2 else i, bytes_in=i % 7 or None)
           for i in range(600)]
    expected = rollup_counts(evs)
    assert len(expected) > 100
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        writer = EventWriter(dialect)
        assert rollup_counts_from_rows(writer.rows(evs, None, [None] * len(evs))) == expected, dialect.name
        _, columns = writer.rows_and_columns(event_columns(evs), None, [None] * len(evs), narrow=True)
        assert columns is not None and rollup_counts_from_columns(columns) == expected, dialect.name


def test_rollups_roll_back_with_a_failed_batch(db: Database) -> None:
    """Events and rollups are one transaction: an insert that fails leaves neither."""
    from netwarden.store.rollups import add_rollups

    good = Event(timestamp=datetime(2026, 1, 1, tzinfo=UTC), source_kind="zeek", transport="tcp", dst_port=80,
                 bytes_out=5)
    with pytest.raises(Exception):
        with db.engine.begin() as conn:
            insert_events(conn, [good])
            add_rollups(conn, [good])
            conn.execute(text("SELECT * FROM no_such_table"))
    assert stored_rollups(db) == {} and _stored_rows(db) == []
    with db.engine.begin() as conn:
        insert_events(conn, [good, good])
        add_rollups(conn, [good, good])
    assert stored_rollups(db) == rollups_from_events(db) == {("2026-01-01 00:00", "zeek", "tcp", 80): (2, 10)}


def test_gzip_and_plain_store_the_same_events(db: Database, tmp_path: Path) -> None:
    lines = EVENTS[:4]
    gz = tmp_path / "events.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write("\n".join(lines) + "\n")
    result = Pipeline(db).ingest_file(gz)
    assert result.format == "netwarden" and result.events == 4
    assert Counter(r["observer"] for r in _stored_rows(db)) == Counter(["v4a", "v4b", "v6a", "mapped"])


def test_every_writer_keeps_rollups_in_step(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """File ingest through the writer process, file follow, and live streams all count rollups."""
    from netwarden.collect.follow import Follower
    from netwarden.store import writer as writer_module
    from netwarden.pipeline import LiveStream

    if db.dialect != "sqlite" or db.engine.url.database not in (None, "", ":memory:"):
        monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)  # the writer process, where it can run
    big = tmp_path / "big.jsonl"
    big.write_text("\n".join(_traffic(200)) + "\n")
    Pipeline(db, batch_size=50).ingest_file(big, "netwarden")
    followed = tmp_path / "followed.jsonl"
    followed.write_text("\n".join(_traffic(30, start_minute=3)) + "\n")
    follower = Follower(Pipeline(db), [str(followed)], "netwarden")
    for _ in range(20):
        follower.poll()
    follower.close()
    with LiveStream(Pipeline(db), fmt="netwarden", source="live", batch_size=7) as stream:
        for line in _traffic(25, start_minute=7):
            stream.feed_line(line, observer="192.0.2.1")
    assert stored_rollups(db) == rollups_from_events(db)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.sum(rollups.c.events))).scalar_one() == 255


def test_keyset_pages_walk_every_event_once_in_order(db: Database) -> None:
    """Exports and API pages read keyset pages: runs of equal timestamps across page ends, both directions, equal
    to one ordered select."""
    from netwarden.store.events import EXPORT_COLUMNS, iter_events, keyset_pages

    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    batch = [Event(timestamp=base.replace(second=(i * 7) % 5, microsecond=(i % 3) * 1000), source_kind="syslog",
                   observer=f"e{i}") for i in range(53)]
    with db.engine.begin() as conn:
        insert_events(conn, batch)
    c = events.c
    with db.engine.connect() as conn:
        for newest in (True, False):
            order = (c.timestamp.desc(), c.id.desc()) if newest else (c.timestamp.asc(), c.id.asc())
            expected = [row.id for row in conn.execute(select(c.id).order_by(*order))]
            assert len(expected) == 53
            for chunk in (1, 4, 7, 53, 60):
                walked = [row[0] for row in keyset_pages(conn, select(c.id, c.timestamp), newest_first=newest,
                                                         chunk=chunk)]
                assert walked == expected, (newest, chunk)
            limited = [row[0] for row in iter_events(conn, EventFilter(), newest_first=newest, limit=10, chunk=4)]
            assert limited == expected[:10]
    assert EXPORT_COLUMNS[0].name == "id"
