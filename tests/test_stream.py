"""The live entry point that listeners and captures feed."""

from __future__ import annotations

import time

from netwarden.pipeline import Pipeline
from netwarden.records import Event
from netwarden.store.events import EventFilter, find_events
from netwarden.store.quarantine import counts_by_reason
from netwarden.pipeline import LiveStream

SSH = "<38>Nov 21 10:00:0{i} gw01 sshd[77]: Failed password for root from 203.0.113.{i} port 4{i}000 ssh2"


def _stored(db) -> list[dict]:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return find_events(conn, EventFilter(), limit=1000, newest_first=False)


def test_lines_from_devices_become_events_with_their_observer(db) -> None:  # type: ignore[no-untyped-def]
    with LiveStream(Pipeline(db), fmt="syslog", source="syslog/udp:5514", batch_size=3) as stream:
        for i in range(5):
            stream.feed_line(SSH.format(i=i), observer="192.0.2.1" if i % 2 else "192.0.2.2")
        stream.feed_line("\x00\x01 junk", observer="192.0.2.1")
    rows = _stored(db)
    assert [r["src_ip"] for r in rows] == [f"203.0.113.{i}" for i in range(5)]
    # the device that sent the line is the observer; the host name it wrote stays in extra
    assert {r["observer"] for r in rows} == {"192.0.2.1", "192.0.2.2"}
    assert {r["extra"]["host"] for r in rows} == {"gw01"}
    stats = stream.stats
    assert stats.devices["192.0.2.1"].received == 3 and stats.devices["192.0.2.1"].quarantined == 1
    assert stats.devices["192.0.2.2"].events == 3
    with db.engine.connect() as conn:
        assert sum(counts_by_reason(conn).values()) == 1


def test_a_quiet_stream_still_flushes_within_max_delay(db) -> None:  # type: ignore[no-untyped-def]
    stream = LiveStream(Pipeline(db), fmt=None, source="netflow", batch_size=1000, max_delay=0.2)
    try:
        stream.feed_event(Event(timestamp=None, source_kind="netflow", src_ip="198.51.100.7", dst_port=443,
                                transport="tcp"), observer="10.0.0.1")
        deadline = time.monotonic() + 5
        while not _stored(db) and time.monotonic() < deadline:
            time.sleep(0.05)
        rows = _stored(db)
        assert len(rows) == 1 and rows[0]["observer"] == "10.0.0.1"
    finally:
        stream.close()


def test_overload_is_counted_not_hidden(db) -> None:  # type: ignore[no-untyped-def]
    stream = LiveStream(Pipeline(db), fmt="syslog", source="t", batch_size=10_000, max_delay=60, max_pending=3)
    accepted = [stream.feed_line(SSH.format(i=i % 10), observer="gw") for i in range(5)]
    stream.close()
    assert accepted == [True, True, True, False, False]
    assert stream.stats.devices["gw"].dropped == 2 and stream.stats.devices["gw"].received == 5
    assert len(_stored(db)) == 3
