"""Queries for one address on all three engines: one address is matched through its own side's index (an
equality, and the two sides read separately and merged), and must give exactly what the general "either side,
as a range" form gives: every event of the address once (also one from the address to itself), the same
newest events under the scan cap, the same pages in the same order when times tie."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from netwarden.records import Event
from netwarden.store import analysis
from netwarden.store.event_search import EventQuery, search
from netwarden.store.events import EventFilter, insert_events
from netwarden.store.hosts import host_summary

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
A = "192.0.2.10"
NETWORK = "192.0.2.10/31"  # the same events as A: nothing is stored for 192.0.2.11, but this is a range


def _flow(minute: float, src: str, dst: str, port: int, transport: str = "tcp") -> Event:
    return Event(timestamp=T0 + timedelta(minutes=minute), source_kind="netflow", src_ip=src, dst_ip=dst,
                 dst_port=port, transport=transport, bytes_out=100, bytes_in=int(minute * 10) + 1)


def _events() -> list[Event]:
    out = [_flow(m, A, "203.0.113.5", 443) for m in range(0, 30, 3)]  # A talks out: 10
    out += [_flow(m + 1, "198.51.100.9", A, 22) for m in range(0, 30, 5)]  # A is talked to: 6
    out += [_flow(14.5, A, A, 53, "udp"), _flow(29.5, A, A, 53, "udp")]  # A to itself: each once
    out += [_flow(m, "198.51.100.9", "203.0.113.5", 80) for m in range(30)]  # not A: 30
    # web requests from A with a user agent (the host page counts agents)
    out += [Event(timestamp=T0 + timedelta(minutes=40 + i), source_kind="access_log", src_ip=A, dst_ip="10.0.0.80",
                  http_method="GET", http_status=200, url="/", user_agent="curl/8.5.0") for i in range(3)]
    return out


@pytest.fixture
def loaded(db):  # type: ignore[no-untyped-def]
    with db.engine.begin() as conn:
        insert_events(conn, _events())
    return db


def _q(address: str, **kw) -> analysis.Query:  # type: ignore[no-untyped-def]
    return analysis.Query(since=T0, until=T0 + timedelta(hours=1), filter=EventFilter(address=address), **kw)


def _without_filters(value):  # type: ignore[no-untyped-def]
    """The result without its drill-down filters (they name the address as asked: A or the network)."""
    if isinstance(value, dict):
        return {k: _without_filters(v) for k, v in value.items() if k != "filter"}
    if isinstance(value, list):
        return [_without_filters(v) for v in value]
    return value


@pytest.mark.parametrize("scan_limit", [analysis.DEFAULT_SCAN_LIMIT, 5, 12])
def test_one_address_on_either_side_matches_the_range_form(loaded, scan_limit: int) -> None:  # type: ignore[no-untyped-def]
    with loaded.engine.connect() as conn:
        for query in (analysis.volume, analysis.protocols, analysis.top_talkers, analysis.top_destinations,
                      analysis.conversations, analysis.http_mix, analysis.overview):
            one = query(conn, _q(A, scan_limit=scan_limit))
            ranged = query(conn, _q(NETWORK, scan_limit=scan_limit))
            assert _without_filters(one) == _without_filters(ranged), query.__name__


def test_one_address_counts_each_of_its_events_once(loaded) -> None:  # type: ignore[no-untyped-def]
    with loaded.engine.connect() as conn:
        mix = analysis.protocols(conn, _q(A))
        assert mix["total"] == 10 + 6 + 2 + 3 and not mix["sampled"]
        assert {r["transport"]: r["events"] for r in mix["transports"]} == {"tcp": 16, "udp": 2, None: 3}
        # the cap keeps the newest: A's 5 newest events are the 3 web requests and the two at 29.5 and 27 minutes
        capped = analysis.volume(conn, _q(A, scan_limit=5))
        assert capped["sampled"] and sum(p["events"] for p in capped["points"]) == 5
        newest = analysis.protocols(conn, _q(A, scan_limit=5))
        assert {r["transport"]: r["events"] for r in newest["transports"]} == {"tcp": 1, "udp": 1, None: 3}


def test_host_summary_of_one_address(loaded) -> None:  # type: ignore[no-untyped-def]
    from netwarden.records import Alert, Factor, Severity
    from netwarden.store.alerts import AlertFilter, find_alerts, save_alert

    with loaded.engine.begin() as conn:
        for i, source in enumerate([A, "192.0.2.11", A, "192.0.2.0", A]):  # neighbours are not A's
            save_alert(conn, Alert(kind="port_scan", subkind="vertical", severity=Severity.HIGH, confidence=0.5,
                                   factors=[Factor("n", 0.5, "x")], source=source, target="10.0.0.5",
                                   first_seen=T0, last_seen=T0 + timedelta(minutes=i % 2), count=1, evidence={},
                                   recommendation="", detector="port_scan", signature=f"s{i}"))
    with loaded.engine.connect() as conn:
        data = host_summary(conn, A, T0, T0 + timedelta(hours=1))
        expected = [a.id for a in find_alerts(conn, AlertFilter(source=A), limit=50)]
    assert [a.id for a in data["alerts"]] == expected and len(expected) == 3  # its statement is built once
    assert data["events"] == 21
    assert data["first_seen"] == T0 and data["last_seen"] == T0 + timedelta(minutes=42)
    assert [(p["address"], p["events"]) for p in data["peers_out"]] == [("203.0.113.5", 10), ("10.0.0.80", 3),
                                                                        (A, 2)]
    assert [(p["address"], p["events"]) for p in data["peers_in"]] == [("198.51.100.9", 6), (A, 2)]
    assert [(a["user_agent"], a["events"]) for a in data["agents"]] == [("curl/8.5.0", 3)]


def test_host_summary_of_an_address_never_seen(loaded) -> None:  # type: ignore[no-untyped-def]
    with loaded.engine.connect() as conn:
        data = host_summary(conn, "192.0.2.99", T0, T0 + timedelta(hours=1))
    assert data["events"] == 0 and data["first_seen"] is None and data["last_seen"] is None


@pytest.mark.parametrize("kind", ["address", "src", "dst"])
def test_pages_of_one_address_on_tied_times(db, kind: str) -> None:  # type: ignore[no-untyped-def]
    """Many events in the same microsecond, on both sides and to itself: the pages give each event once,
    newest first and by id among equal times, and oldest first the exact reverse."""
    batch = []
    for i in range(9):
        batch.append(_flow(5, A, "203.0.113.5", 443))
        batch.append(_flow(5, "198.51.100.9", A, 22))
        if i % 3 == 0:
            batch.append(_flow(5, A, A, 53, "udp"))
    batch += [_flow(1, A, "203.0.113.5", 443), _flow(9, "198.51.100.9", A, 22)]
    with db.engine.begin() as conn:
        insert_events(conn, batch)
    with db.engine.connect() as conn:
        pages: dict[bool, list[tuple]] = {}
        for oldest in (False, True):
            seen, cursor = [], None
            while True:
                rows, cursor = search(conn, EventQuery(**{kind: A}, limit=4, oldest_first=oldest, cursor=cursor))
                seen += [(r["timestamp"], r["id"], r["src_ip"], r["dst_ip"]) for r in rows]
                if cursor is None:
                    break
            pages[oldest] = seen
    expected = [(e.timestamp, e.src_ip, e.dst_ip) for e in batch
                if {"address": A in (e.src_ip, e.dst_ip), "src": e.src_ip == A, "dst": e.dst_ip == A}[kind]]
    newest = pages[False]
    assert len(newest) == len(expected) == len({r[1] for r in newest})
    assert newest == sorted(newest, key=lambda r: (r[0], r[1]), reverse=True)
    assert sorted((t, s, d) for t, _i, s, d in newest) == sorted(expected)
    assert pages[True] == newest[::-1]


def test_search_with_bound_values_finds_what_a_statement_built_for_them_does(db) -> None:  # type: ignore[no-untyped-def]
    """search() runs a statement built once per shape with the values bound; the statement built with the values
    in it (as a text search is) must give the same pages for every kind of condition, on every engine."""
    from netwarden.store.event_search import _built, _page

    batch = _events() + [
        Event(timestamp=T0 + timedelta(minutes=50 + i), source_kind="access_log", src_ip="198.51.100.9",
              dst_ip=A, dst_port=443, transport="tcp", app_protocol="http", http_method="GET",
              http_status=404 if i % 2 else 200, url="/x", label="attack" if i % 3 == 0 else None)
        for i in range(8)]
    with db.engine.begin() as conn:
        insert_events(conn, batch)
    asked = [({}, 59), ({"address": A}, 29), ({"address": NETWORK}, 29), ({"src": A}, 15),
             ({"dst": "192.0.2.0/24"}, 16), ({"port": 443}, 18), ({"kind": "access_log", "status": 404}, 4),
             ({"label": "attack"}, 3), ({"protocol": "HTTP"}, 8), ({"protocol": "udp"}, 2),
             ({"since": T0 + timedelta(minutes=10), "until": T0 + timedelta(minutes=52), "address": A}, 17),
             ({"src": "198.51.100.9", "dst": A, "port": 22}, 6)]
    with db.engine.connect() as conn:
        for kw, expected in asked:
            for oldest in (False, True):
                cursor, found = None, 0
                while True:
                    query = EventQuery(**kw, oldest_first=oldest, cursor=cursor, limit=5)
                    rows, cursor = search(conn, query)
                    assert (rows, cursor) == _page(conn, query, [conn.execute(s) for s in _built(query)]), kw
                    found += len(rows)
                    if cursor is None:
                        break
                assert found == expected, kw


def test_host_summary_counts_what_the_analysis_queries_do(loaded) -> None:  # type: ignore[no-untyped-def]
    """The host page counts its two reads itself; the analysis queries count in the database."""
    since, until = T0 - timedelta(minutes=30), T0 + timedelta(hours=2)
    with loaded.engine.connect() as conn:
        data = host_summary(conn, A, since, until)
        q = analysis.Query(since, until, filter=EventFilter(address=A), limit=15)
        volume, mix = analysis.volume(conn, q, max_points=60), analysis.protocols(conn, q)
        out = analysis.top_destinations(conn, analysis.Query(since, until, filter=EventFilter(src=A), limit=15))
        into = analysis.top_talkers(conn, analysis.Query(since, until, filter=EventFilter(dst=A), limit=15))
    assert data["volume"] == volume and len(volume["points"]) > 1
    assert (data["ports"], data["transports"]) == (mix["ports"], mix["transports"])
    assert data["peers_out"] == out["rows"] and data["peers_in"] == into["rows"]
