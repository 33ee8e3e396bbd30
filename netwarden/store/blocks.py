"""Block records and their storage: every decision, kept after it ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, func, insert, or_, select, update

from netwarden.networks import Network, display
from netwarden.store import keyset
from netwarden.store.addresses import network_range, range_of
from netwarden.store.events import clean_text
from netwarden.store.schema_respond import blocks

AUTO = "auto"  # created_by of automatic blocks


class BlockState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REMOVED = "removed"
    FAILED = "failed"
    REFUSED = "refused"  # never in effect: the never-block list or the cap said no (detail says which)


@dataclass
class Block:
    """One blocking decision: which network, why, by whom, until when, and what became of it."""

    network: str
    reason: str
    backend: str
    mode: str
    created_by: str
    created: datetime
    expires: datetime | None  # None: permanent
    level: int = 0
    state: BlockState = BlockState.ACTIVE
    alert_id: int | None = None
    ended: datetime | None = None
    ended_by: str | None = None
    detail: str = ""
    id: int | None = None

    @property
    def automatic(self) -> bool:
        return self.created_by == AUTO

    @property
    def permanent(self) -> bool:
        return self.expires is None

    def seconds_left(self, now: datetime) -> float | None:
        return None if self.expires is None else max(0.0, (self.expires - now).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "network": self.network, "reason": self.reason, "alert_id": self.alert_id,
                "backend": self.backend, "mode": self.mode, "created_by": self.created_by,
                "created": self.created.isoformat(), "expires": self.expires.isoformat() if self.expires else None,
                "level": self.level, "state": str(self.state),
                "ended": self.ended.isoformat() if self.ended else None, "ended_by": self.ended_by,
                "detail": self.detail}


BLOCK_COLUMNS = ("id", "network", "reason", "alert_id", "backend", "mode", "created_by", "created", "expires",
                 "level", "state", "ended", "ended_by", "detail")  # Block.to_dict's keys, for exports


def _from_row(row: Any) -> Block:
    m = row._mapping
    return Block(id=m["id"], network=m["network"], reason=m["reason"], alert_id=m["alert_id"],
                 backend=m["backend"], mode=m["mode"], created_by=m["created_by"], created=m["created"],
                 expires=m["expires"], level=m["level"], state=BlockState(m["state"]), ended=m["ended"],
                 ended_by=m["ended_by"], detail=m["detail"])


def block_values(block: Block, net: Network) -> dict[str, Any]:
    """The row of ``block`` (about ``net``) as stored."""
    lo, hi = range_of(net)
    return {"network": display(net), "addr_lo": lo, "addr_hi": hi, "reason": clean_text(block.reason)[:2000],
            "alert_id": block.alert_id, "backend": block.backend, "mode": block.mode,
            "created_by": block.created_by[:64], "created": block.created, "expires": block.expires,
            "level": block.level, "state": str(block.state), "ended": block.ended, "ended_by": block.ended_by,
            "detail": clean_text(block.detail)[:2000]}


def insert_block(conn: Connection, block: Block, net: Network) -> Block:
    values = block_values(block, net)
    # parameters, not .values(): the statement stays one cached compile (a block per alert under a flood)
    block.id = int(conn.execute(insert(blocks), values).inserted_primary_key[0])
    block.network = values["network"]
    return block


def end_block(conn: Connection, block_id: int | None, state: BlockState, *, when: datetime, by: str,
              detail: str | None = None) -> bool:
    """Move an active block to expired/removed/failed; False when it was no longer active (or never stored)."""
    values: dict[str, Any] = {"state": str(state), "ended": when, "ended_by": by[:64]}
    if detail is not None:
        values["detail"] = clean_text(detail)[:2000]
    result = conn.execute(update(blocks).where(blocks.c.id == block_id,
                                               blocks.c.state == str(BlockState.ACTIVE)).values(**values))
    return result.rowcount > 0


def get_block(conn: Connection, block_id: int) -> Block | None:
    row = conn.execute(select(blocks).where(blocks.c.id == block_id)).first()
    return _from_row(row) if row else None


def active_blocks(conn: Connection) -> list[Block]:
    rows = conn.execute(select(blocks).where(blocks.c.state == str(BlockState.ACTIVE)).order_by(blocks.c.id))
    return [_from_row(r) for r in rows]


def overlapping_active(conn: Connection, net: Network) -> list[Block]:
    """Active blocks whose network overlaps ``net`` (covers it, or lies inside it)."""
    lo, hi = network_range(str(net))
    rows = conn.execute(select(blocks).where(blocks.c.state == str(BlockState.ACTIVE), blocks.c.addr_lo <= hi,
                                             blocks.c.addr_hi >= lo))
    return [_from_row(r) for r in rows]


def count_active(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(blocks).where(
        blocks.c.state == str(BlockState.ACTIVE))).scalar_one())


def count_active_auto(conn: Connection) -> int:
    """Active automatic blocks that hold a place under the cap: enforced ones (a dry-run decision blocks
    nothing, so it must not keep a real block out later)."""
    return int(conn.execute(select(func.count()).select_from(blocks).where(
        blocks.c.state == str(BlockState.ACTIVE), blocks.c.created_by == AUTO,
        blocks.c.mode == "enforce")).scalar_one())


def earlier_blocks(conn: Connection, net: Network, since: datetime, *, enforced_only: bool = False) -> list[Block]:
    """Blocks of exactly this network since ``since`` that were decided (failed and refused ones do not
    count); ``enforced_only``: only those that reached the firewall (escalation ignores dry-run decisions)."""
    lo, hi = network_range(str(net))
    stmt = select(blocks).where(blocks.c.addr_lo == lo, blocks.c.addr_hi == hi, blocks.c.created >= since,
                                blocks.c.state.not_in([str(BlockState.FAILED), str(BlockState.REFUSED)]))
    if enforced_only:
        stmt = stmt.where(blocks.c.mode == "enforce")
    return [_from_row(r) for r in conn.execute(stmt.order_by(blocks.c.created))]


def blocks_query(*, state: str | None = None, address: str | None = None) -> Select:
    """The blocks in this state covering or inside ``address`` (unordered: see :mod:`netwarden.store.keyset`)."""
    stmt = select(blocks)
    if state:
        stmt = stmt.where(blocks.c.state == str(BlockState(state)))
    if address:
        stmt = stmt.where(overlapping(address))
    return stmt


def overlapping(address: str) -> ColumnElement[bool]:
    """Blocks covering or inside an address or network, found by index seeks on ``addr_lo``. Two networks overlap
    only when one holds the other; a block's ``addr_lo`` is its network's first address, so a block holding the
    range starts at the range's first address cut to one of the 129 prefix lengths, and a block inside it starts
    within it. ``addr_lo <= hi AND addr_hi >= lo`` says the same but made the database scan every block (their
    time index, 0.1-0.2 s at 30,000 blocks, for each host page)."""
    lo, hi = network_range(address)
    return and_(or_(blocks.c.addr_lo.between(lo, hi), blocks.c.addr_lo.in_(prefix_starts(lo))), blocks.c.addr_hi >= lo)


def prefix_starts(lo: bytes) -> list[bytes]:
    """The first addresses of the 129 networks (/0 to /128) that hold the address key ``lo``: the key with its
    lowest set bits cleared one by one, down to zero (popcount + 1 of them; 49 at most for IPv4)."""
    first = int.from_bytes(lo, "big")
    starts = [first]
    while first:
        first &= first - 1
        starts.append(first)
    return [s.to_bytes(16, "big") for s in reversed(starts)]


# one address's blocks (the host page's): built once, run with the address's values; for one address,
# ``overlapping`` is the blocks starting at one of its prefixes' first addresses and reaching it
_OF_ADDRESS = select(blocks).where(blocks.c.addr_lo.in_(bindparam("starts", expanding=True)),
                                   blocks.c.addr_hi >= bindparam("key")) \
    .order_by(blocks.c.created.desc(), blocks.c.id.desc()).limit(bindparam("limit"))


def blocks_of_address(conn: Connection, address: str, limit: int = 100) -> list[Block]:
    """``list_blocks(address=address)`` for one address (not a network), without building its statement."""
    key = network_range(address)[0]
    return [_from_row(r) for r in conn.execute(_OF_ADDRESS, {"starts": prefix_starts(key), "key": key,
                                                            "limit": limit})]


def list_blocks(conn: Connection, *, state: str | None = None, address: str | None = None,
                limit: int = 100) -> list[Block]:
    """The newest ``limit`` blocks (:func:`page_of_blocks` for the pages after)."""
    return page_of_blocks(conn, state=state, address=address, limit=limit)[0]


def page_of_blocks(conn: Connection, *, state: str | None = None, address: str | None = None, limit: int = 100,
                   cursor: str | None = None) -> tuple[list[Block], str | None]:
    """One page of blocks, newest first, from ``cursor`` on, and the next page's cursor (None on the last)."""
    rows, following = keyset.page(conn, blocks_query(state=state, address=address), blocks.c.created, blocks.c.id,
                                  limit=limit, cursor=cursor)
    return [_from_row(r) for r in rows], following


def every_block(connect: Callable[[], Any], *, state: str | None = None,
                address: str | None = None) -> Iterator[Block]:
    """Every such block, newest first, in keyset pages (exports)."""
    stmt = blocks_query(state=state, address=address)
    return map(_from_row, keyset.every(connect, stmt, blocks.c.created, blocks.c.id))
