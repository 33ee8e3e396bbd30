"""Blocks of an address or network on all three engines: found by index seeks on where each block starts (the
range's first address cut to every prefix length, or within the range), they must be exactly the blocks the
plain overlap test ``addr_lo <= hi AND addr_hi >= lo`` finds: those holding the address, those inside a
network asked for, IPv4 blocks and IPv6 blocks holding IPv4 space, and none beside them."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from netwarden.networks import parse_network
from netwarden.store.addresses import network_range
from netwarden.store.blocks import Block, blocks_of_address, insert_block, list_blocks
from netwarden.store.schema_respond import blocks

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
NETWORKS = ["192.0.2.7", "192.0.2.0/24", "192.0.0.0/16", "192.0.2.8/29", "192.0.3.7", "10.0.0.0/8", "0.0.0.0/0",
            "::ffff:0:0/96", "2001:db8::/32", "2001:db8::1", "2001:db9::/32", "198.51.100.0/31"]
ASKED = ["192.0.2.7", "192.0.2.9", "192.0.2.0/24", "192.0.2.0/28", "192.0.0.0/8", "192.0.3.0/24", "10.1.2.3",
         "203.0.113.9", "2001:db8::1", "2001:db8::/48", "2001:db8:1::5", "::", "198.51.100.1", "0.0.0.0/0"]


@pytest.fixture
def stored(db):  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    nets = NETWORKS + [f"192.0.{rng.randrange(4)}.{rng.randrange(256)}/{rng.choice([32, 30, 24])}" for _ in range(40)]
    with db.engine.begin() as conn:
        for i, text in enumerate(nets):
            net = parse_network(text)
            insert_block(conn, Block(network=text, reason="r", backend="none", mode="dry-run", created_by="auto",
                                     created=T0 + timedelta(minutes=i), expires=None), net)
    return db


@pytest.mark.parametrize("asked", ASKED)
def test_blocks_of_an_address_are_those_that_overlap_it(stored, asked: str) -> None:  # type: ignore[no-untyped-def]
    lo, hi = network_range(asked)
    with stored.engine.connect() as conn:
        found = [b.id for b in list_blocks(conn, address=asked, limit=1000)]
        plain = [r.id for r in conn.execute(select(blocks.c.id).where(blocks.c.addr_lo <= hi, blocks.c.addr_hi >= lo)
                                            .order_by(blocks.c.created.desc(), blocks.c.id.desc()))]
        one = [b.id for b in blocks_of_address(conn, asked, limit=1000)] if "/" not in asked else plain
    assert found == plain and one == plain  # the host page's statement built once: the same blocks


def test_blocks_of_one_address_hold_it(stored) -> None:  # type: ignore[no-untyped-def]
    with stored.engine.connect() as conn:
        networks = {b.network for b in list_blocks(conn, address="192.0.2.7", limit=1000)}
    assert {"192.0.2.7", "192.0.2.0/24", "192.0.0.0/16", "0.0.0.0/0"} <= networks
    assert not networks & {"192.0.3.7", "192.0.2.8/29", "10.0.0.0/8", "2001:db8::/32"}
