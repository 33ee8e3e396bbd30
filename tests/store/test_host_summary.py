"""The host page's data, read by one statement, is exactly what the store's separate queries give on every engine:
first and last seen (min/max over the address's events), the analysis queries' counts, the alerts list of the
source (find_alerts), its blocks (list_blocks), its user agents (a GROUP BY) — the same JSON, byte for byte, with
ties, limits, an address talking to itself, blocks holding it from IPv4 and IPv6 space, and an IPv6 address."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from netwarden.networks import parse_network
from netwarden.records import Alert, AlertStatus, Event, Factor, Severity
from netwarden.store import analysis
from netwarden.store.alerts import AlertFilter, find_alerts, save_alert
from netwarden.store.blocks import Block, BlockState, insert_block, list_blocks
from netwarden.store.events import EventFilter, insert_events
from netwarden.store.hosts import HOST_AGENTS, HOST_ALERTS, HOST_BLOCKS, host_summary
from netwarden.store.schema import events
from netwarden.useragent import parse_agent
from netwarden.web.api.alerts import alert_dict
from netwarden.web.deps import json_bytes

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
V4, V6 = "192.0.2.10", "2001:db8::10"
AGENTS = ["curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Googlebot/2.1"]


def _event(minute: float, src: str, dst: str, port: int | None, **kw: Any) -> Event:
    return Event(timestamp=T0 + timedelta(minutes=minute), source_kind=kw.pop("kind", "netflow"), src_ip=src,
                 dst_ip=dst, dst_port=port, transport=kw.pop("transport", "tcp"), bytes_out=100,
                 bytes_in=int(minute * 10) + 1, **kw)


def _events(a: str) -> list[Event]:
    out = [_event(m, a, "203.0.113.5", 443) for m in range(0, 60, 3)]
    out += [_event(m + 1, "198.51.100.9", a, 22) for m in range(0, 60, 5)]
    # to itself (counted once), one without a port or transport (not tied with another: PostgreSQL's SQL would
    # order a NULL among equal counts last, the page first, as SQLite and MariaDB do)
    out += [_event(14.5, a, a, 53, transport="udp"), _event(29.5, a, a, None, transport=None),
            _event(33.5, a, a, None, transport=None)]
    out += [_event(7, a, "203.0.113.6", 80) for _ in range(3)]  # the same microsecond
    out += [_event(-30, a, "203.0.113.5", 443), _event(200, "198.51.100.9", a, 22)]  # outside the range
    out += [_event(m, "198.51.100.9", "203.0.113.5", 80) for m in range(10)]  # not the address's
    out += [_event(40 + i, a, "10.0.0.80", 80, kind="access_log", http_method="GET", http_status=200, url="/",
                   user_agent=AGENTS[i % 3] if i % 4 else AGENTS[0]) for i in range(14)]
    return out


def _alert(source: str, i: int, last: datetime) -> Alert:
    return Alert(kind="port_scan", subkind="vertical", severity=list(Severity)[i % 4], confidence=i / 100,
                 factors=[Factor("n", 0.5, f"x{i}")], source=source, target="10.0.0.5", first_seen=T0,
                 last_seen=last, count=i + 1, evidence={"i": i, "ports": [22, 80]}, recommendation="Look.",
                 detector="port_scan", signature=f"{source}-{i}", status=list(AlertStatus)[i % 4],
                 model_version="m1" if i % 2 else None, history=i % 3 == 0)


@pytest.fixture
def stored(db):  # type: ignore[no-untyped-def]
    with db.engine.begin() as conn:
        insert_events(conn, _events(V4) + _events(V6))
        for a in (V4, V6, "192.0.2.11"):
            for i in range(HOST_ALERTS + 5):  # more than the page shows; ties on last_seen
                save_alert(conn, _alert(a, i, T0 + timedelta(minutes=i // 3)))
        # IPv4 networks and IPv6 ones holding IPv4 space (starting below ::ffff:0:0), IPv6 ones, and ones that
        # start at a fixed IPv4 start above a low IPv6 address (::8000:0:0/81 does not hold ::1)
        nets = ["192.0.2.10", "192.0.2.0/24", "192.0.0.0/16", "0.0.0.0/0", "::ffff:0:0/96", "::/0", "192.0.2.11",
                "192.0.2.8/31", "2001:db8::/32", "2001:db8::10", "10.0.0.0/8", "::fffe:0:0/95", "::/80",
                "::8000:0:0/81", "::1", "::/64"]
        for i in range(HOST_BLOCKS + 10):
            text = nets[i % len(nets)]
            insert_block(conn, Block(network=text, reason=f"r{i}", backend="none", mode="dry-run",
                                     created_by="auto" if i % 2 else "admin", created=T0 + timedelta(minutes=i // 4),
                                     expires=None if i % 3 else T0 + timedelta(days=1), level=i % 3,
                                     state=list(BlockState)[i % 5], alert_id=None,
                                     ended=T0 + timedelta(hours=2) if i % 5 == 1 else None,
                                     ended_by="admin" if i % 5 == 1 else None, detail=f"d{i}"), parse_network(text))
    return db


def _reference(conn: Any, address: str, since: datetime, until: datetime) -> dict[str, Any]:
    """The host page's data from the store's separate queries (what the page's parts mean)."""
    q = analysis.Query(since, until, filter=EventFilter(address=address), limit=15)
    volume, mix = analysis.volume(conn, q, max_points=60), analysis.protocols(conn, q)
    out = analysis.top_destinations(conn, analysis.Query(since, until, filter=EventFilter(src=address), limit=15))
    into = analysis.top_talkers(conn, analysis.Query(since, until, filter=EventFilter(dst=address), limit=15))
    e = events.c
    seen = conn.execute(select(func.min(e.timestamp), func.max(e.timestamp))
                        .where((e.src_ip == address) | (e.dst_ip == address))).one()
    n = func.count()
    agents = conn.execute(select(e.user_agent, n).where(e.src_ip == address, e.user_agent.is_not(None),
                                                        e.timestamp >= since, e.timestamp < until)
                          .group_by(e.user_agent)).all()
    agents = sorted(agents, key=lambda r: (-r[1], r[0]))[:HOST_AGENTS]
    return {
        "address": address, "first_seen": seen[0], "last_seen": seen[1], "events": mix["total"], "volume": volume,
        "ports": mix["ports"], "transports": mix["transports"], "sampled": volume["sampled"] or mix["sampled"],
        "peers_out": out["rows"], "peers_in": into["rows"],
        "agents": [{"user_agent": ua, "events": int(k), **parse_agent(ua).to_dict()} for ua, k in agents],
        "alerts": find_alerts(conn, AlertFilter(source=address), limit=HOST_ALERTS),
        "blocks": list_blocks(conn, address=address, limit=HOST_BLOCKS),
    }


def _json(data: dict[str, Any]) -> bytes:
    """What the API sends of it (netwarden.web.api.hosts.host_facts)."""
    return json_bytes({**data, "alerts": [alert_dict(a) for a in data["alerts"]],
                       "blocks": [b.to_dict() for b in data["blocks"]]})


@pytest.mark.parametrize("address", [V4, V6, "192.0.2.11", "203.0.113.5", "198.51.100.77", "::1",
                                     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"])
def test_one_statement_gives_what_the_separate_queries_give(stored, address: str) -> None:  # type: ignore[no-untyped-def]
    since, until = T0 - timedelta(minutes=5), T0 + timedelta(hours=1)
    with stored.engine.connect() as conn:
        data = host_summary(conn, address, since, until)
        expected = _reference(conn, address, since, until)
    if address in (V4, V6):  # the fixture's parts are all there
        assert len(data["alerts"]) == HOST_ALERTS and len(data["blocks"]) > 5 and len(data["agents"]) == 3
        assert data["events"] > 30 and data["peers_out"] and data["peers_in"]
    a, b = _json(data), _json(expected)
    i = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), 0)
    assert a == b, (a[i - 300:i + 100], b[i - 300:i + 100])
