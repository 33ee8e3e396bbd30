"""Fixtures for the response tests: network namespaces for the real firewall tests, a quick store."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from respond_netns import (  # type: ignore[import-not-found]
    ATTACKER4,
    ATTACKER6,
    LISTENER,
    SERVER4,
    SERVER6,
    NetPair,
    _netns_usable,
    sh,
)


@pytest.fixture
def netpair():  # type: ignore[no-untyped-def]
    reason = _netns_usable()
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:6]
    pair = NetPair(f"nwsrv{tag}", f"nwatk{tag}")
    veth_s, veth_a = f"nws{tag}", f"nwa{tag}"
    listener = None
    try:
        sh("ip", "netns", "add", pair.server)
        sh("ip", "netns", "add", pair.attacker)
        sh("ip", "link", "add", veth_s, "type", "veth", "peer", "name", veth_a)
        sh("ip", "link", "set", veth_s, "netns", pair.server)
        sh("ip", "link", "set", veth_a, "netns", pair.attacker)
        for ns, dev, v4, v6 in ((pair.server, veth_s, SERVER4, SERVER6), (pair.attacker, veth_a, ATTACKER4, ATTACKER6)):
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{v4}/24", "dev", dev)
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{v6}/64", "dev", dev, "nodad")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", dev, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        listener = subprocess.Popen(["ip", "netns", "exec", pair.server, sys.executable, "-c", LISTENER],
                                    stdout=subprocess.PIPE, text=True)
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        pair.wait_until(True, SERVER4)
        pair.wait_until(True, SERVER6)
        yield pair
    finally:
        if listener is not None:
            listener.kill()
            listener.wait(5)
        sh("ip", "netns", "del", pair.server, check=False)
        sh("ip", "netns", "del", pair.attacker, check=False)


@pytest.fixture
def sqlite_db(tmp_path: Path):  # type: ignore[no-untyped-def]
    """One quick SQLite store for tests about firewalls (the store itself is tested on all engines)."""
    from netwarden.store.database import Database

    database = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    yield database
    database.close()
