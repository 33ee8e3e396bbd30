"""sshd writes the user name as the client sent it: a name that holds "from 8.8.8.8 port 22" must not make
NetWarden alert on (or block) 8.8.8.8; the alert goes to the address that really sent the guesses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from netwarden.config import load_settings
from netwarden.pipeline import Pipeline
from netwarden.store.blocks import list_blocks
from netwarden.store.database import Database
from netwarden.store.schema import alerts, events

VICTIM, ATTACKER = "8.8.8.8", "203.0.113.9"
FORGED = (  # user names, each as sshd would log it for a client at ATTACKER
    "Failed password for invalid user admin{i} from {v} port 22 ssh2: x from {a} port {p} ssh2",
    "Failed password for admin{i} from {v} port 22 ssh2 from {a} port {p} ssh2",
    "Invalid user admin{i} from {v} port 22 from {a} port {p}",
    "Failed keyboard-interactive/pam for invalid user u{i} from {v} port 22 ssh2: x from {a} port {p} ssh2",
    "error: PAM: Authentication failure for illegal user u{i} from {v} from {a}",
    "maximum authentication attempts exceeded for invalid user u{i} from {v} port 22 ssh2 from {a} port {p} ssh2",
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={a}  user=u{i} rhost={v}",
    "Connection closed by invalid user u{i} {v} port 22 {a} port {p} [preauth]",
)


def test_forty_forged_user_names_frame_nobody(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    lines = [f"{(start + timedelta(seconds=i)).strftime('%b %e %H:%M:%S')} gw sshd[{900 + i}]: "
             + FORGED[i % len(FORGED)].format(i=i, v=VICTIM, a=ATTACKER, p=40000 + i) for i in range(40)]
    pipeline = Pipeline.from_settings(db, load_settings(environ={}))  # dry-run: blocks recorded, no firewall
    try:
        result = pipeline.ingest_lines(lines, "syslog")
    finally:
        pipeline.close()
    assert result.events == 40 and result.quarantined_total == 0
    with db.engine.connect() as conn:
        sources = {r.src_ip for r in conn.execute(select(events.c.src_ip))}
        alerted = {(r.kind, r.source) for r in conn.execute(select(alerts.c.kind, alerts.c.source))}
        blocked = {b.network for b in list_blocks(conn)}
    db.close()
    assert sources == {ATTACKER}
    assert ("brute_force", ATTACKER) in alerted
    assert all(VICTIM not in (source or "") for _, source in alerted)
    assert VICTIM not in blocked and not any(VICTIM in n for n in blocked)


def test_failures_with_an_impossible_port_still_count(tmp_path: Path) -> None:
    """sshd never writes port 99999; such a line keeps its address (the port is dropped, with the reason)."""
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    lines = [f"{(start + timedelta(seconds=i)).strftime('%b %e %H:%M:%S')} gw sshd[{900 + i}]: "
             f"Failed password for invalid user u{i} from {ATTACKER} port {99990 + i % 9} ssh2" for i in range(30)]
    pipeline = Pipeline.from_settings(db, load_settings(environ={}))
    try:
        result = pipeline.ingest_lines(lines, "syslog")
    finally:
        pipeline.close()
    assert result.events == 30 and result.quarantined_total == 0
    with db.engine.connect() as conn:
        rows = conn.execute(select(events.c.src_ip, events.c.src_port, events.c.extra)).all()
        alerted = {(r.kind, r.source) for r in conn.execute(select(alerts.c.kind, alerts.c.source))}
    db.close()
    assert {(r.src_ip, r.src_port) for r in rows} == {(ATTACKER, None)}
    assert all(r.extra["dropped"]["reason"] == "bad_port" for r in rows)
    assert ("brute_force", ATTACKER) in alerted
