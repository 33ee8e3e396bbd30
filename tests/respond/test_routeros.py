"""The RouterOS backend over the real API wire protocol, against fake_routeros (no router runs here)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fake_routeros import FakeRouterOS  # type: ignore[import-not-found]

from netwarden.networks import block_target
from netwarden.respond.firewall.base import FirewallError, human_seconds
from netwarden.respond.firewall.routeros import RouterOSFirewall
from netwarden.respond.responder import Responder
from netwarden.respond.settings import RespondSettings
from netwarden.store.blocks import BlockState, get_block


@pytest.fixture
def router():  # type: ignore[no-untyped-def]
    with FakeRouterOS() as server:
        yield server


def backend(router, password: str = "s3cret") -> RouterOSFirewall:  # type: ignore[no-untyped-def]
    return RouterOSFirewall("127.0.0.1", port=router.port, username="netwarden", password=password, timeout=3)


def test_human_seconds() -> None:
    assert [human_seconds(s) for s in (600, 3600, 86400 + 3723, 0.2)] == ["10m", "1h", "1d1h2m3s", "1s"]


def test_add_replace_list_remove_ipv4_and_ipv6(router) -> None:  # type: ignore[no-untyped-def]
    fw = backend(router)
    fw.add(block_target("203.0.113.7"), 600)
    fw.add(block_target("2001:db8:1:2::99"), None)
    v4 = router.router.lists["ip"]
    v6 = router.router.lists["ipv6"]
    assert [(r["list"], r["address"], r["timeout"], r["comment"]) for r in v4.values()] == \
        [("netwarden", "203.0.113.7", "10m", "netwarden")]
    assert [(r["address"], "timeout" in r) for r in v6.values()] == [("2001:db8:1:2::/64", False)]
    # a longer block replaces the entry's timeout (one entry, not two)
    fw.add(block_target("203.0.113.7"), 3600)
    assert [r["timeout"] for r in v4.values()] == ["1h"]
    # an administrator's own entry on the same list is neither listed nor removed by NetWarden
    v4["*FF"] = {".id": "*FF", "list": "netwarden", "address": "198.51.100.1", "comment": "by hand"}
    assert fw.entries() == {"203.0.113.7", "2001:db8:1:2::/64"}
    fw.remove(block_target("203.0.113.7"))
    fw.remove(block_target("203.0.113.7"))  # not there any more: not an error
    assert [r["address"] for r in v4.values()] == ["198.51.100.1"]
    assert router.router.logins == 1  # one connection reused
    fw.close()


def test_wrong_password_is_a_clear_error(router) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FirewallError, match="cannot log in: invalid user name or password"):
        backend(router, password="wrong").add(block_target("203.0.113.7"), 60)


def test_reconnects_after_the_router_dropped_the_connection(router) -> None:  # type: ignore[no-untyped-def]
    fw = backend(router)
    fw.add(block_target("203.0.113.7"), 60)
    router.router.drop_next = True
    fw.add(block_target("203.0.113.8"), 60)
    assert fw.entries() == {"203.0.113.7", "203.0.113.8"} and router.router.logins == 2
    fw.close()


def test_unreachable_router(router) -> None:  # type: ignore[no-untyped-def]
    fw = RouterOSFirewall("127.0.0.1", port=1, password="x", timeout=1)
    with pytest.raises(FirewallError, match="127.0.0.1:1"):
        fw.entries()


def test_responder_blocks_on_the_router_and_reconciles(router, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    settings = RespondSettings(mode="enforce", backend="routeros")
    settings.routeros.host, settings.routeros.port, settings.routeros.password = "127.0.0.1", router.port, "s3cret"
    r = Responder(sqlite_db, settings).start(sweep=False)
    try:
        block = r.block("203.0.113.20", reason="test", by="alice", duration=timedelta(hours=1))
        assert r.flush(10)
        [row] = router.router.lists["ip"].values()
        assert row["address"] == "203.0.113.20" and row["timeout"] in ("1h", "59m59s")
        # the router lost its list (reboot) and holds a stray entry: a restart puts things right
        router.router.lists["ip"].clear()
        router.router.lists["ip"]["*AA"] = {".id": "*AA", "list": "netwarden", "address": "192.0.2.9",
                                            "comment": "netwarden"}
        r.reconcile()
        assert r.flush(10)
        assert [x["address"] for x in router.router.lists["ip"].values()] == ["203.0.113.20"]
        with sqlite_db.engine.connect() as conn:
            assert get_block(conn, block.id).state == BlockState.ACTIVE
    finally:
        r.close()


def test_router_refusal_marks_the_block_failed(router, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    settings = RespondSettings(mode="enforce", backend="routeros")
    settings.routeros.host, settings.routeros.port, settings.routeros.password = "127.0.0.1", router.port, "bad"
    r = Responder(sqlite_db, settings)
    try:
        block = r.block("203.0.113.21", reason="test", by="alice")
        assert r.flush(10)
        with sqlite_db.engine.connect() as conn:
            stored = get_block(conn, block.id)
        assert stored.state == BlockState.FAILED and "invalid user name or password" in stored.detail
    finally:
        r.close()


def test_api_ssl_with_a_verified_certificate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with FakeRouterOS(tls=context) as router:
        fw = RouterOSFirewall("127.0.0.1", port=router.port, password="s3cret", tls=True, ca_file=str(cert), timeout=3)
        fw.add(block_target("203.0.113.7"), 600)
        assert fw.entries() == {"203.0.113.7"}
        fw.close()
        untrusted = RouterOSFirewall("127.0.0.1", port=router.port, password="s3cret", tls=True, timeout=3)
        with pytest.raises(FirewallError, match="certificate verify failed"):
            untrusted.entries()
