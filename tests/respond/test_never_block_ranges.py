"""The never-block list compares integer ranges (``NeverBlockList.refusal``): the same answers, entry for entry,
as ipaddress's ``overlaps`` on each protected network, the IPv4 behind NAT64/6to4/Teredo included."""

from __future__ import annotations

import ipaddress
import random

from netwarden.networks import embedded_ipv4, parse_network
from netwarden.respond.never_block import NeverBlockList


def _reference(never: NeverBlockList, target) -> str | None:  # type: ignore[no-untyped-def]
    forms = [(target, "")] + [(v4, f" through {name} {target}") for name, v4 in embedded_ipv4(target)]
    for net, via in forms:
        for entry in never.entries:
            if entry.network.version == net.version and entry.network.overlaps(net):
                return f"overlaps {entry.network} ({entry.why}){via}"
    return None


def test_refusals_are_those_of_ipaddress_overlaps() -> None:
    rng = random.Random(14)
    never = NeverBlockList(home=["198.51.100.0/24", "2001:db8:1::/48"], gateways=["192.0.2.1"],
                           dns_servers=["9.9.9.9", "2620:fe::fe"], admin_addresses=["203.0.113.7"],
                           extra=["8.8.8.0/30"])
    targets = ["192.0.2.1", "192.0.2.0/24", "9.9.9.9", "8.8.8.3", "8.8.8.4", "10.1.2.3", "203.0.113.0/25",
               "2001:db8:1:2::/64", "2620:fe::/48", "64:ff9b::909:909", "2002:909:909::/48", "::ffff:9.9.9.9",
               "0.0.0.0/0", "::/0", "fe80::1", "100.64.0.1"]
    for _ in range(3000):
        if rng.random() < 0.5:
            targets.append(f"{ipaddress.IPv4Address(rng.getrandbits(32))}/{rng.choice([8, 16, 24, 30, 32])}")
        else:
            targets.append(f"{ipaddress.IPv6Address(rng.getrandbits(128))}/{rng.choice([16, 32, 48, 64, 128])}")
    refused = 0
    for text in targets:
        net = parse_network(text)
        expected = _reference(never, net)
        assert never.refusal(net) == expected, text
        refused += expected is not None
    assert 20 < refused < len(targets) - 1000  # both answers were tried many times
