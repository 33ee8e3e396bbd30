"""Data for the console tests (incidents, offenders, hosts, visitors): one attacker with an incident of two
alerts, web requests and two blocks; a second, quieter source; a hostile user agent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from netwarden.networks import parse_network
from netwarden.records import Alert, Event, Severity
from netwarden.store.alerts import save_alert, save_incident
from netwarden.store.blocks import Block, BlockState, insert_block
from netwarden.store.database import Database
from netwarden.store.events import insert_events
from netwarden.store.rollups import add_rollups

ATTACKER = "193.0.6.139"  # RIPE NCC, Netherlands in the bundled country database
QUIET = "8.8.8.8"
SERVER = "10.0.0.80"
HOSTILE_AGENT = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">'
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
SQLI_EVIDENCE = {"matched": ["' OR 1=1 --"], "rules": ["sqli-tautology"], "where": ["query"],
                 "samples": [{"timestamp": "2026-12-04T10:00:00+00:00", "src_ip": ATTACKER, "dst_ip": SERVER,
                              "dst_port": 443, "http_method": "GET", "user_agent": HOSTILE_AGENT,
                              "url": "/login?next=<script>window.__pwned=5</script>&u=admin' or 1=1 --"}]}


def fill(db: Database) -> dict[str, int]:
    now = datetime.now(timezone.utc)
    batch = []
    for i in range(40):  # the attacker: a scan, then web requests, some by a scanner
        batch.append(Event(timestamp=now - timedelta(minutes=30) + timedelta(seconds=20 * i), source_kind="access_log",
                           src_ip=ATTACKER, src_port=40000 + i, dst_ip=SERVER, dst_port=443 if i % 4 else 80,
                           transport="tcp", http_method="GET", url=f"/page{i}", http_status=404,
                           user_agent="sqlmap/1.7" if i % 2 else HOSTILE_AGENT))
    for i in range(10):
        batch.append(Event(timestamp=now - timedelta(minutes=20, seconds=i), source_kind="access_log", src_ip=QUIET,
                           dst_ip=SERVER, dst_port=443, transport="tcp", http_method="GET", url="/",
                           http_status=200, user_agent=IPHONE if i % 2 else FIREFOX))
    with db.engine.begin() as conn:
        insert_events(conn, batch)
        add_rollups(conn, batch)
        incident = {"id": None, "source": ATTACKER, "severity": "critical", "status": "open",
                    "kinds": ["port_scan", "web_attack"], "alert_count": 2, "summary": f"port_scan → web_attack from {ATTACKER}",
                    "first_seen": now - timedelta(minutes=30), "last_seen": now - timedelta(minutes=17)}
        incident_id = save_incident(conn, incident)
        first = save_alert(conn, Alert(
            kind="port_scan", subkind="tcp", severity=Severity.MEDIUM, confidence=0.7, factors=[], source=ATTACKER,
            target=SERVER, first_seen=now - timedelta(minutes=30), last_seen=now - timedelta(minutes=25), count=20,
            evidence={}, recommendation="watch", detector="port_scan", incident_id=incident_id))
        second = save_alert(conn, Alert(
            kind="web_attack", subkind="sqli", severity=Severity.CRITICAL, confidence=0.95, factors=[],
            source=ATTACKER, target=SERVER, first_seen=now - timedelta(minutes=24),
            last_seen=now - timedelta(minutes=17), count=20, evidence=SQLI_EVIDENCE,
            recommendation="block", detector="web_attack", incident_id=incident_id))
        quiet = save_alert(conn, Alert(
            kind="unusual_service", subkind="", severity=Severity.LOW, confidence=0.5, factors=[], source=QUIET,
            target=SERVER, first_seen=now - timedelta(minutes=20), last_seen=now - timedelta(minutes=19), count=1,
            evidence={}, recommendation="look", detector="unusual_service"))
        net = parse_network(ATTACKER)
        for level, state in ((0, BlockState.EXPIRED), (1, BlockState.ACTIVE)):
            insert_block(conn, Block(network=ATTACKER, reason=f"step {level}", backend="nftables", mode="dry-run",
                                     created_by="auto", created=now - timedelta(minutes=20 - level),
                                     expires=now + timedelta(hours=1), level=level, state=state,
                                     alert_id=second), net)
    return {"incident": incident_id, "scan": first, "sqli": second, "quiet": quiet}
