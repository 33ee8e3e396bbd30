"""End to end: syslog lines of an SSH brute force arrive over UDP, the pipeline detects it, the
responder blocks the source in nftables inside a network namespace, and the attacker is cut off —
within a second of the triggering line."""

from __future__ import annotations

import socket
import time
from datetime import datetime

from respond_netns import ATTACKER4, SERVER4  # type: ignore[import-not-found]

from netwarden.collect.syslog_server import SyslogServer, SyslogServerConfig
from netwarden.config import load_settings
from netwarden.pipeline import Pipeline
from netwarden.pipeline import LiveStream
from netwarden.store.alerts import get_alert
from netwarden.store.blocks import AUTO, BlockState, list_blocks

USERS = ("root", "admin", "oracle", "test", "ubuntu", "guest")


def ssh_failures(source: str, n: int) -> list[str]:
    """A password-guessing run as sshd logs it over syslog (local time, as syslog writes it)."""
    stamp = datetime.now().strftime("%b %e %H:%M:%S")
    return [f"<38>{stamp} gw sshd[{4000 + i}]: Failed password for {USERS[i % len(USERS)]} from {source} "
            f"port {40000 + i} ssh2" for i in range(n)]


def test_syslog_brute_force_is_blocked_in_nftables_within_a_second(netpair, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(environ={"NETWARDEN_RESPOND_MODE": "enforce", "NETWARDEN_RESPOND_NETNS": netpair.server})
    pipeline = Pipeline.from_settings(sqlite_db, settings)
    responder = pipeline.response.responder
    stream = LiveStream(pipeline, fmt="syslog", source="syslog", use_process=False, max_delay=0.1)
    server = SyslogServer(stream, SyslogServerConfig(udp=[("127.0.0.1", 0)]))
    server.start()
    try:
        assert responder.flush(10)  # the table is set up at start
        assert netpair.reaches(SERVER4)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        started = time.monotonic()
        for line in ssh_failures(ATTACKER4, 30):
            sender.sendto(line.encode(), server.address("udp"))
        sender.close()
        fw = responder.firewall
        while ATTACKER4 not in fw.entries():
            assert time.monotonic() - started < 5, "no block within 5 s"
            time.sleep(0.01)
        latency = time.monotonic() - started
        assert latency < 2.0, f"event to firewall rule took {latency:.2f} s"
        assert not netpair.reaches(SERVER4)
        with sqlite_db.engine.connect() as conn:
            [block] = list_blocks(conn)
            alert = get_alert(conn, block.alert_id)
        assert (block.network, block.created_by, block.mode, block.state) == (ATTACKER4, AUTO, "enforce",
                                                                             BlockState.ACTIVE)
        assert alert is not None and alert.kind == "brute_force" and alert.source == ATTACKER4
        assert alert.confidence >= settings.respond.threshold
    finally:
        server.stop()
        stream.close()
        pipeline.close()
