"""Analysis queries on all three engines: sums agree with the stored events, drill-down filters find
exactly the events behind a row, and the bounds (limit, scan cap) hold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from netwarden.records import Event
from netwarden.store import analysis
from netwarden.store.events import EventFilter, find_events, insert_events
from netwarden.store.rollups import add_rollups

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def _events() -> list[Event]:
    out = []
    # 10.0.0.5 browses a lot (3 events a minute for 60 minutes) to 203.0.113.10:443
    for m in range(60):
        for s in range(3):
            out.append(Event(timestamp=T0 + timedelta(minutes=m, seconds=s * 10), source_kind="netflow",
                             src_ip="10.0.0.5", dst_ip="203.0.113.10", dst_port=443, transport="tcp",
                             bytes_out=100, bytes_in=1000))
    # 10.0.0.6 resolves names: 20 DNS flows in the second half hour
    for m in range(30, 50):
        out.append(Event(timestamp=T0 + timedelta(minutes=m), source_kind="netflow", src_ip="10.0.0.6",
                         dst_ip="10.0.0.1", dst_port=53, transport="udp", bytes_out=60, bytes_in=120))
    # web requests from a visitor: 7 OK, 3 not found, 2 POST
    for i in range(12):
        out.append(Event(timestamp=T0 + timedelta(minutes=5 + i), source_kind="access_log",
                         src_ip="198.51.100.7", dst_ip="10.0.0.80", http_method="POST" if i >= 10 else "GET",
                         http_status=404 if 7 <= i < 10 else 200, url=f"/page/{i}", bytes_in=500))
    return out


@pytest.fixture
def loaded(db):  # type: ignore[no-untyped-def]
    batch = _events()
    with db.engine.begin() as conn:
        insert_events(conn, batch)
        add_rollups(conn, batch)
    return db


def _q(**kw) -> analysis.Query:  # type: ignore[no-untyped-def]
    return analysis.Query(since=T0, until=T0 + timedelta(hours=1), **kw)


def _count(conn, flt: dict) -> int:  # type: ignore[no-untyped-def]
    args = dict(flt)
    args["since"] = datetime.fromisoformat(args["since"])
    args["until"] = datetime.fromisoformat(args["until"])
    return len(find_events(conn, EventFilter(**args), limit=10_000))


def test_volume_from_rollups_and_from_events_agree(loaded) -> None:  # type: ignore[no-untyped-def]
    with loaded.engine.connect() as conn:
        fast = analysis.volume(conn, _q())
        assert fast["source"] == "rollups" and fast["bucket_seconds"] == 60
        assert sum(p["events"] for p in fast["points"]) == 212
        assert sum(p["bytes"] for p in fast["points"]) == 180 * 1100 + 20 * 180 + 12 * 500
        first = fast["points"][0]
        assert first["start"] == "2026-03-02T10:00:00Z" and first["events"] == 3
        assert _count(conn, first["filter"]) == 3  # drill-down lists exactly that minute's events
        # a source filter cannot use rollups: raw events, same sums for that source
        slow = analysis.volume(conn, _q(filter=EventFilter(src="10.0.0.0/24")))
        assert slow["source"] == "events"
        assert sum(p["events"] for p in slow["points"]) == 200
        assert slow["points"][0]["filter"]["src"] == "10.0.0.0/24"


def test_bucket_size_follows_the_range() -> None:
    assert analysis.bucket_seconds(T0, T0 + timedelta(hours=1)) == 60
    assert analysis.bucket_seconds(T0, T0 + timedelta(days=1)) == 900
    assert analysis.bucket_seconds(T0, T0 + timedelta(days=30)) == 3 * 3600
    assert analysis.bucket_seconds(T0, T0 + timedelta(days=3650)) == 7 * 86400


def test_volume_large_buckets_cover_the_hour(loaded) -> None:  # type: ignore[no-untyped-def]
    with loaded.engine.connect() as conn:
        out = analysis.volume(conn, analysis.Query(since=T0 - timedelta(days=2), until=T0 + timedelta(days=1)))
        assert out["bucket_seconds"] == 1800
        assert [p["start"] for p in out["points"]] == ["2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z"]
        assert [p["events"] for p in out["points"]] == [90 + 12, 90 + 20]


def test_protocols_ports_and_kinds(loaded) -> None:  # type: ignore[no-untyped-def]
    with loaded.engine.connect() as conn:
        for flt in (None, EventFilter(address="0.0.0.0/0")):  # rollups, then raw events
            out = analysis.protocols(conn, _q(filter=flt))
            assert out["total"] == 212
            assert {t["transport"]: t["events"] for t in out["transports"]} == {"tcp": 180, "udp": 20, None: 12}
            assert [(p["port"], p["events"]) for p in out["ports"]] == [(443, 180), (53, 20)]
            assert {k["kind"]: k["events"] for k in out["kinds"]} == {"netflow": 200, "access_log": 12}
        port53 = analysis.protocols(conn, _q())["ports"][1]["filter"]
        assert _count(conn, port53) == 20


def test_top_talkers_destinations_and_pairs(loaded) -> None:  # type: ignore[no-untyped-def]
    with loaded.engine.connect() as conn:
        talkers = analysis.top_talkers(conn, _q())["rows"]
        assert [(r["address"], r["events"]) for r in talkers] == [
            ("10.0.0.5", 180), ("10.0.0.6", 20), ("198.51.100.7", 12)]
        assert talkers[0]["bytes"] == 180 * 1100
        assert _count(conn, talkers[2]["filter"]) == 12
        dests = analysis.top_destinations(conn, _q(limit=2))["rows"]
        assert [(r["address"], r["events"]) for r in dests] == [("203.0.113.10", 180), ("10.0.0.1", 20)]
        conv = analysis.conversations(conn, _q())
        assert len(conv["links"]) == 3
        i, j = conv["nodes"].index("10.0.0.6"), conv["nodes"].index("10.0.0.1")
        assert conv["matrix"][i][j] == 20 and conv["matrix"][j][i] == 0
        assert _count(conn, conv["links"][0]["filter"]) == 180


def test_http_mix(loaded) -> None:  # type: ignore[no-untyped-def]
    with loaded.engine.connect() as conn:
        out = analysis.http_mix(conn, _q())
        assert out["total"] == 12
        assert [(s["status"], s["events"]) for s in out["statuses"]] == [(200, 9), (404, 3)]
        assert out["classes"] == {"2xx": 9, "4xx": 3}
        assert [(m["method"], m["events"]) for m in out["methods"]] == [("GET", 10), ("POST", 2)]
        assert _count(conn, out["statuses"][1]["filter"]) == 3


def test_scan_cap_is_reported(loaded) -> None:  # type: ignore[no-untyped-def]
    with loaded.engine.connect() as conn:
        out = analysis.top_talkers(conn, _q(scan_limit=50))
        assert out["sampled"] is True
        assert sum(r["events"] for r in out["rows"]) == 50  # only the newest 50 events were read
        assert analysis.top_talkers(conn, _q())["sampled"] is False


def test_time_range_excludes_outside_events(loaded) -> None:  # type: ignore[no-untyped-def]
    with loaded.engine.connect() as conn:
        q = analysis.Query(since=T0 + timedelta(minutes=50), until=T0 + timedelta(minutes=55))
        assert analysis.protocols(conn, q)["total"] == 15
        assert [r["address"] for r in analysis.top_talkers(conn, q)["rows"]] == ["10.0.0.5"]
        everything = analysis.overview(conn, q)
        assert set(everything) >= {"volume", "protocols", "talkers", "destinations", "conversations", "http"}


@pytest.mark.parametrize("kwargs, message", [
    ({"since": T0, "until": T0}, "must come after"),
    ({"since": T0, "until": T0 + timedelta(hours=1), "limit": 0}, "limit"),
    ({"since": T0, "until": T0 + timedelta(hours=1), "limit": 10_000}, "limit"),
])
def test_bad_queries_are_refused(kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(analysis.AnalysisError, match=message):
        analysis.Query(**kwargs)


def test_overview_single_scan_agrees_with_each_query(loaded) -> None:  # type: ignore[no-untyped-def]
    one_sided = [Event(timestamp=T0 + timedelta(minutes=33), source_kind="auth", src_ip="10.0.0.6"),
                 Event(timestamp=T0 + timedelta(minutes=34), source_kind="firewall", dst_ip="10.0.0.1")]
    with loaded.engine.begin() as conn:
        insert_events(conn, one_sided)
    with loaded.engine.connect() as conn:
        for q in (_q(), _q(limit=2), _q(filter=EventFilter(src="10.0.0.0/8")), _q(limit=1, filter=EventFilter(port=53)),
                  analysis.Query(since=T0 - timedelta(days=2), until=T0 + timedelta(days=1),
                                 filter=EventFilter(address="0.0.0.0/0")),
                  analysis.Query(since=T0 + timedelta(minutes=31), until=T0 + timedelta(minutes=40))):
            everything = analysis.overview(conn, q)
            assert everything["talkers"] == analysis.top_talkers(conn, q)
            assert everything["destinations"] == analysis.top_destinations(conn, q)
            assert everything["conversations"] == analysis.conversations(conn, q)
            assert everything["http"] == analysis.http_mix(conn, q)
            assert everything["volume"] == analysis.volume(conn, q)
            assert everything["protocols"] == analysis.protocols(conn, q)
        capped = _q(scan_limit=50)
        assert analysis.overview(conn, capped)["talkers"] == analysis.top_talkers(conn, capped)
