"""The firewall backend contract, checked for EVERY registered backend (parametrised over ``BACKENDS``).

Each backend runs against the real thing or its real protocol: nftables and iptables+ipset inside a
network namespace made for the test, RouterOS over its API wire protocol to fake_routeros, the command
backend running real argument lists, the webhook backend posting to a loopback receiver. Each is built
from settings through ``create()``, as the responder builds it. Promised by all:

1. ``setup``, ``add``, ``remove`` and listing are idempotent: adding twice keeps one entry (a second add
   replaces the timeout), removing what is gone is no error, listing twice gives the same answer;
2. what the backend lists (when it can list) is what the device holds;
3. addresses are validated: anything but an ``ipaddress`` network is refused before the device sees it.

A new backend needs a rig below (how to reach a real or faithful device); the last test says so.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fake_routeros import FakeRouterOS  # type: ignore[import-not-found]
from respond_netns import _netns_usable, sh  # type: ignore[import-not-found]

from netwarden.networks import block_target, display, parse_network
from netwarden.respond.firewall.base import BACKENDS, Firewall, FirewallError, create
from netwarden.respond.settings import RespondSettings

V4, V6 = block_target("203.0.113.7"), block_target("2001:db8:5:6::99")  # the latter: its /64


@dataclass
class Rig:
    firewall: Firewall
    held: Callable[[], set[str]]  # what the device itself holds now, as the device writes it

    def device(self) -> set[str]:
        """The device's entries in display form (203.0.113.7, 2001:db8::/64), as ``entries()`` gives them."""
        return {display(parse_network(entry)) for entry in self.held()}


@contextmanager
def _namespace(backend: str) -> Iterator[Rig]:
    reason = _netns_usable()
    if reason:
        pytest.skip(reason)
    ns = f"nwfc{uuid.uuid4().hex[:6]}"
    sh("ip", "netns", "add", ns)
    try:
        fw = create(RespondSettings(backend=backend, netns=ns), netns=ns)
        yield Rig(fw, lambda: set(fw.entries() or ()))
        fw.close()
    finally:
        sh("ip", "netns", "del", ns, check=False)


@contextmanager
def _routeros(tmp_path: Path) -> Iterator[Rig]:
    with FakeRouterOS() as server:
        settings = RespondSettings(backend="routeros")
        settings.routeros.host, settings.routeros.port, settings.routeros.password = "127.0.0.1", server.port, "s3cret"
        settings.routeros.timeout = 3
        fw = create(settings)
        lists = server.router.lists
        yield Rig(fw, lambda: {r["address"] for family in ("ip", "ipv6") for r in lists.get(family, {}).values()})
        fw.close()


# the command backend's "device": a JSON list of addresses kept by the commands it runs
EDIT = ("import json, pathlib, sys; p = pathlib.Path(sys.argv[1]); s = set(json.loads(p.read_text() or '[]'));"
        " (s.add if sys.argv[2] == 'add' else s.discard)(sys.argv[3]); p.write_text(json.dumps(sorted(s)))")


@contextmanager
def _command(tmp_path: Path) -> Iterator[Rig]:
    state = tmp_path / "device.json"
    state.write_text("[]")
    settings = RespondSettings(backend="command")
    settings.command.add = [sys.executable, "-c", EDIT, str(state), "add", "{address}"]
    settings.command.remove = [sys.executable, "-c", EDIT, str(state), "del", "{address}"]
    yield Rig(create(settings), lambda: set(json.loads(state.read_text())))


class _Device(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        held: set[str] = self.server.held  # type: ignore[attr-defined]
        (held.add if body["action"] == "block" else held.discard)(body["address"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _webhook(tmp_path: Path) -> Iterator[Rig]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Device)
    server.held = set()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = RespondSettings(backend="webhook")
        settings.webhook.url = f"http://127.0.0.1:{server.server_address[1]}/firewall"
        yield Rig(create(settings), lambda: set(server.held))  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


RIGS: dict[str, Callable[[Path], object]] = {
    "nftables": lambda tmp: _namespace("nftables"),
    "iptables": lambda tmp: _namespace("iptables"),
    "routeros": _routeros,
    "command": _command,
    "webhook": _webhook,
}
NAMES = sorted(BACKENDS.all())


@pytest.fixture(params=NAMES)
def rig(request, tmp_path: Path) -> Iterator[Rig]:  # type: ignore[no-untyped-def]
    if request.param not in RIGS:
        pytest.fail(f"backend {request.param!r} has no rig in {__file__}: add how to reach its device")
    with RIGS[request.param](tmp_path) as made:  # type: ignore[attr-defined]
        yield made


def _listed(rig: Rig) -> set[str] | None:
    first, second = rig.firewall.entries(), rig.firewall.entries()
    assert first == second, "listing twice gives the same answer"
    if first is not None:
        assert first == rig.device(), "what the backend lists is what the device holds"
    return first


def test_setup_add_remove_and_list_are_idempotent(rig: Rig) -> None:
    fw = rig.firewall
    fw.setup()
    fw.setup()
    assert rig.device() == set()
    for _ in range(2):
        fw.add(V4, 600, "contract")
        fw.add(V6, None, "contract")
    assert rig.device() == {"203.0.113.7", "2001:db8:5:6::/64"}
    fw.add(V4, 3600, "longer")  # replaces the timeout, still one entry
    assert rig.device() == {"203.0.113.7", "2001:db8:5:6::/64"}
    assert _listed(rig) in (None, {"203.0.113.7", "2001:db8:5:6::/64"})
    for _ in range(2):
        fw.remove(V4)
    fw.remove(block_target("198.51.100.200"))  # never added: not an error
    assert rig.device() == {"2001:db8:5:6::/64"}
    fw.remove(V6)
    assert rig.device() == set() and _listed(rig) in (None, set())
    fw.setup()  # again after use: nothing lost, nothing doubled
    fw.add(V4, 60)
    assert rig.device() == {"203.0.113.7"}


@pytest.mark.parametrize("hostile", ["203.0.113.7", "203.0.113.7; flush ruleset", "$(id)", "0.0.0.0/0 ", None, 42,
                                     b"203.0.113.7"])
def test_only_validated_networks_reach_the_device(rig: Rig, hostile: object) -> None:
    rig.firewall.setup()
    with pytest.raises(FirewallError, match="not a validated network"):
        rig.firewall.add(hostile, 60, "x")  # type: ignore[arg-type]
    with pytest.raises(FirewallError, match="not a validated network"):
        rig.firewall.remove(hostile)  # type: ignore[arg-type]
    assert rig.device() == set()


def test_backend_names_are_the_settings_choices() -> None:
    for name in NAMES:
        assert RespondSettings(backend=name).backend == name
    with pytest.raises(ValueError, match="unknown firewall backend 'pf'"):
        RespondSettings(backend="pf")


def test_a_new_backend_is_one_module_with_its_own_section() -> None:
    """What a module in netwarden/respond/firewall/ does: register a class with its Settings. The settings
    then accept it as ``backend`` and type its ``[respond.<name>]`` section, with no edit elsewhere."""
    from netwarden.settings_base import Section

    class PfSettings(Section):
        anchor: str = "netwarden"

    class Pf(Firewall):
        name = "pf_contract_example"
        Settings = PfSettings

        def __init__(self, anchor: str) -> None:
            self.anchor, self.held = anchor, set[str]()

        def add(self, net, seconds, reason=""):  # type: ignore[no-untyped-def]
            self.held.add(display(net))

        def remove(self, net) -> None:  # type: ignore[no-untyped-def]
            self.held.discard(display(net))

    BACKENDS.register(Pf)
    try:
        settings = RespondSettings.model_validate({"backend": Pf.name, Pf.name: {"anchor": "blocks"}})
        fw = create(settings)
        assert isinstance(fw, Pf) and fw.anchor == "blocks"
        assert RespondSettings.model_validate(settings.model_dump()).section(Pf.name) == PfSettings(anchor="blocks")
        with pytest.raises(ValueError, match=f"respond.{Pf.name}.anchor"):
            RespondSettings.model_validate({Pf.name: {"anchor": 5}})
        with pytest.raises(FirewallError, match="not a validated network"):
            fw.add("203.0.113.7", 60)  # type: ignore[arg-type]
    finally:
        del BACKENDS.entries[Pf.name]
