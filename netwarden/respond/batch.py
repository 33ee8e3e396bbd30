"""One batch of alerts decided with a handful of queries instead of five per alert (the new-alert flood).

``Responder.on_alert`` asks the store, for each confident alert: the network's earlier blocks (twice: for the
evidence check and for escalation), the active blocks overlapping it, the count of active automatic blocks,
then inserts. Under a flood where every line is a new alert from a new address, those queries were most of the
cost. Here the same decisions are made, in the same order, against what two queries read up front (active blocks
overlapping the batch's networks, and their earlier blocks), kept current as the batch's own decisions are
made, and written in one transaction. Side effects (cache, log lines, listeners, firewall) follow the commit.
The stored result is the per-alert path's (tests/respond/test_respond_batch.py compares them).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Select, and_, bindparam, or_, select

from netwarden.networks import AddressError, Network, block_target, display, parse_network
from netwarden.records import Alert, AlertStatus
from netwarden.respond.refusals import kept_message, outlasts
from netwarden.store.addresses import range_of
from netwarden.store.alerts import insert_many
from netwarden.store.blocks import AUTO, Block, BlockState, _from_row, block_values, count_active_auto, end_block
from netwarden.store.schema_respond import blocks

if TYPE_CHECKING:
    from netwarden.respond.responder import Responder

log = logging.getLogger(__name__)
CHUNK = 200  # networks per prefetch query (bound parameters stay far below every engine's limit)
# the ids of blocks decided in this batch and not inserted yet: after every stored id, in the order decided,
# as the ids the inserts will give them (only their order is looked at before they are inserted)
UNSTORED = 1 << 62
# source -> the network a block of it covers (with its text and its range of address keys), per IPv6 prefix
# length: a flood raises alerts from the same sources batch after batch, and parsing an address (ipaddress)
# was a sixth of deciding a batch, writing a network as text another sixth
_TARGETS: dict[int, dict[str, _Target | None]] = {}
MAX_TARGETS = 65_536


@dataclass(frozen=True, slots=True)
class _Target:
    net: Network
    key: str  # str(net): how the views know it
    range: tuple[bytes, bytes]  # network_range(key)


@dataclass
class _View:
    """What the per-alert path would read from the store, for this batch's networks, kept current."""

    active: dict[str, tuple[Network, Block]]  # the responder's cache, plus this batch's decisions
    overlapping: _Active  # active blocks overlapping any of the batch's networks, and the batch's own
    earlier: dict[tuple[bytes, bytes], list[Block]]  # decided blocks of exactly that network since ``since``
    auto_enforced: int  # active automatic enforced blocks (the cap counts these)
    decided: set = field(default_factory=set)  # alerts refused for good in this batch
    done: list = field(default_factory=list)  # (block, replaced, reason, network) to announce after the commit
    refused: list = field(default_factory=list)  # (cause, network, alert id, lasting, message)
    prefixes: set = field(default_factory=set)  # (version, prefix length) of the networks in ``active``
    unstored: list = field(default_factory=list)  # (row, network, [the block and its copies]), in order

    def __post_init__(self) -> None:
        self.prefixes |= {(n.version, n.prefixlen) for n, _ in self.active.values()}

    def covered(self, net: Network, key: str | None = None) -> bool:
        """``refusals.covering(active, net) is not None``, looking up only the prefix lengths blocked (under
        a flood, thousands of /32s: one lookup per alert instead of one per wider network). ``key``: str(net)."""
        if (key or str(net)) in self.active:
            return True
        return any(str(net.supernet(new_prefix=p)) in self.active
                   for version, p in self.prefixes if version == net.version and p < net.prefixlen)


def decide(responder: Responder, alerts: Sequence[Alert]) -> None:
    """Decide blocks for a batch's alerts as ``on_alert`` would for each, in order."""
    r = responder
    if not r.settings.auto_block:
        return
    candidates = []
    targets = _TARGETS.setdefault(r.settings.ipv6_prefix, {})
    if len(targets) > MAX_TARGETS:
        targets.clear()
    # ``r.is_history`` and the kinds' thresholds, worked out once per batch rather than once per alert
    history_before = r.clock() - r._history_after
    thresholds: dict[str, float] = {}
    for alert in alerts:
        if not alert.source or alert.id in r._decided:
            continue
        if alert.status not in (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED) or alert.history \
                or alert.last_seen < history_before:
            continue
        threshold = thresholds.get(alert.kind)
        if threshold is None:
            threshold = thresholds[alert.kind] = r.settings.threshold_for(alert.kind)
        if alert.confidence < threshold:
            continue
        target = targets.get(alert.source, targets)
        if target is targets:
            try:
                net = block_target(alert.source, r.settings.ipv6_prefix)
                target = _Target(net, str(net), range_of(net))
            except AddressError:
                target = None
            targets[alert.source] = target
        if target is not None:
            candidates.append((alert, target))
    if not candidates:
        return
    now = r.clock()
    with r._lock:
        # a network already under a block is decided (``_one`` returns at once): the store need not be asked.
        # Under a flood, after the first batches that is nearly every alert
        known = _View(r._active, _Active(), {}, 0)
        candidates = [(alert, t) for alert, t in candidates if not known.covered(t.net, t.key)]
        if not candidates:
            return
        try:
            with r.db.engine.begin() as conn:
                view = _read(conn, r, [t.range for _, t in candidates], now)
                for alert, target in candidates:
                    _one(conn, r, view, alert, target, now)
                _store(conn, view)
        except Exception:  # the database said no: nothing of the batch was stored; decide one by one
            log.exception("batched block decisions failed; deciding alert by alert")
            for alert, _ in candidates:
                r.on_alert(alert, True)
            return
        for block, replaced, _, net in view.done:
            for old in replaced:
                r._active.pop(str(parse_network(old.network)), None)
            r._active[str(net)] = (net, block)
    _announce(r, view)


def _read(conn: Connection, r: Responder, wanted: list[tuple[bytes, bytes]], now: datetime) -> _View:
    """What the store holds of the networks whose ranges (``network_range``) are ``wanted``."""
    since = now - r._history
    ranges = sorted(set(wanted))
    overlapping = _Active()
    earlier: dict[tuple[bytes, bytes], list[Block]] = {rng: [] for rng in ranges}
    active, decided = _statements()
    for i in range(0, len(ranges), CHUNK):
        chunk = ranges[i:i + CHUNK]
        padded = chunk + [chunk[-1]] * (CHUNK - len(chunk))  # one statement for every chunk: the same rows
        params: dict[str, object] = {f"lo{n}": lo for n, (lo, _) in enumerate(padded)}
        params.update((f"hi{n}", hi) for n, (_, hi) in enumerate(padded))
        for row in conn.execute(active, params):
            overlapping.add(_from_row(row))
        rows = conn.execute(decided, {"los": [lo for lo, _ in chunk], "since": since})
        for row in rows:
            key = (bytes(row.addr_lo), bytes(row.addr_hi))
            if key in earlier:
                earlier[key].append(_from_row(row))
    for found in earlier.values():  # one object per stored block, so that ending one shows in both views
        for n, b in enumerate(found):
            found[n] = overlapping.by_id.get(b.id, b)
    return _View(dict(r._active), overlapping, earlier, count_active_auto(conn))


@functools.cache
def _statements() -> tuple[Select, Select]:
    """The two queries of ``_read``, built once: the active blocks overlapping any of CHUNK ranges, and the
    blocks decided for exactly some networks since a time. Building the first anew for each chunk (200
    comparisons of address ranges) was a third of deciding the first batch of a flood."""
    active = select(blocks).where(blocks.c.state == str(BlockState.ACTIVE), or_(
        *(and_(blocks.c.addr_lo <= bindparam(f"hi{n}"), blocks.c.addr_hi >= bindparam(f"lo{n}"))
          for n in range(CHUNK)))).order_by(blocks.c.id)
    decided = select(blocks).where(
        blocks.c.addr_lo.in_(bindparam("los", expanding=True)), blocks.c.created >= bindparam("since"),
        blocks.c.state.not_in([str(BlockState.FAILED), str(BlockState.REFUSED)])).order_by(blocks.c.created)
    return active, decided


def _one(conn: Connection, r: Responder, view: _View, alert: Alert, target: _Target, now: datetime) -> None:
    net = target.net
    if alert.id in r._decided or alert.id in view.decided or view.covered(net, target.key):
        return
    earlier = view.earlier[target.range]
    if earlier:  # the evidence ends before the network's last block did: it is what that block refused
        ends = [t for t in (earlier[-1].ended, earlier[-1].expires) if t is not None]
        if ends and alert.last_seen <= min(ends):
            return
    mode = "enforce" if r.enforce else "dry-run"
    reason = f"{alert.kind}{'/' + alert.subkind if alert.subkind else ''} alert #{alert.id}, " \
             f"confidence {alert.confidence:.2f}"
    record = Block(network=display(net), reason=reason, backend=r.backend_name, mode=mode, created_by=AUTO,
                   created=now, expires=None, state=BlockState.REFUSED, alert_id=alert.id, ended=now,
                   ended_by="netwarden")
    refusal = r.never_block.refusal(net)
    if refusal:
        message = f"{display(net)} is never blocked: {refusal}"
        _defer(view, replace(record, detail=message), net)
        view.refused.append(("never-block list", net, alert.id, True, message))
        view.decided.add(alert.id)
        return
    overlapping = view.overlapping.overlapping(net)
    wider = [b for b in overlapping if parse_network(b.network).supernet_of(net) and parse_network(b.network) != net]
    same = [b for b in overlapping if parse_network(b.network) == net]
    if wider or same:
        _store_if_unstored(conn, view, wider[:1] + same[:1])
        message = (f"{display(net)} is already blocked by block #{wider[0].id} ({wider[0].network})" if wider
                   else f"{display(net)} is already blocked (block #{same[0].id})")
        view.refused.append(("refused", net, alert.id, True, message))
        view.decided.add(alert.id)
        return
    if view.auto_enforced >= r.settings.max_auto_blocks:
        message = (f"the cap of {r.settings.max_auto_blocks} active automatic blocks is reached "
                   "([respond] max_auto_blocks)")
        if alert.id not in r._cap_recorded:
            _defer(view, replace(record, detail=message), net)
            r._note_cap_recorded(alert.id)
        view.refused.append(("block cap", net, alert.id, False, message))
        return
    level = sum(1 for b in earlier if b.mode == "enforce")
    expires = now + r._steps[min(level, len(r._steps) - 1)]
    longer = [b for b in overlapping if outlasts(b.expires, expires)]
    if longer:
        _store_if_unstored(conn, view, longer[:3])
        view.refused.append(("refused", net, alert.id, True, kept_message(net, longer, expires)))
        view.decided.add(alert.id)
        return
    block = _defer(view, Block(network=display(net), reason=reason, backend=r.backend_name, mode=mode,
                               created_by=AUTO, created=now, expires=expires, level=level, alert_id=alert.id), net)
    if overlapping:  # ending them names the new block, and they may be this batch's own
        _store(conn, view)
    for old in overlapping:
        end_block(conn, old.id, BlockState.REMOVED, when=now, by=AUTO,
                  detail=f"replaced by block #{block.id}")
        old.state, old.ended, old.ended_by, old.detail = BlockState.REMOVED, now, AUTO, f"replaced by block #{block.id}"
        view.overlapping.discard(old)
        if old.created_by == AUTO and old.mode == "enforce":
            view.auto_enforced -= 1
        view.active.pop(str(parse_network(old.network)), None)
    stored = replace(block)  # the store's copy, as the next alert's queries would read it
    if block.id >= UNSTORED:  # type: ignore[operator]
        view.unstored[-1][2].append(stored)
    view.overlapping.add(stored, net)
    earlier.append(stored)
    view.active[target.key] = (net, block)
    view.prefixes.add((net.version, net.prefixlen))
    if mode == "enforce":
        view.auto_enforced += 1
    view.done.append((block, overlapping, reason, net))


def _defer(view: _View, block: Block, net: Network) -> Block:
    """``insert_block``, the insert left to ``_store``: under a flood one multi-row insert per batch rather
    than one statement per block."""
    row = block_values(block, net)
    block.network = row["network"]
    block.id = UNSTORED + len(view.unstored)
    view.unstored.append((row, str(net), [block]))
    return block


def _store(conn: Connection, view: _View) -> None:
    """Insert the deferred blocks, in the order decided, and give them (and their copies) their ids."""
    if not view.unstored:
        return
    for (_, key, held), block_id in zip(view.unstored, insert_many(conn, blocks, [e[0] for e in view.unstored])):
        for block in held:
            view.overlapping.renumber(block, key, block_id)
    view.unstored.clear()


def _store_if_unstored(conn: Connection, view: _View, named: Sequence[Block]) -> None:
    """Before a message names these blocks' ids, or the store is asked to change them."""
    if any(b.id is not None and b.id >= UNSTORED for b in named):
        _store(conn, view)


class _Active:
    """Active blocks by network, to find those overlapping a network without testing each: CIDR networks
    overlap only when one holds the other, so look up the network's supernets (of the prefix lengths present)
    and, for a network wider than one address, scan for the blocks inside it."""

    def __init__(self) -> None:
        self.by_net: dict[str, dict[int, Block]] = {}
        self.by_id: dict[int, Block] = {}
        self.prefixes: dict[int, set[int]] = {4: set(), 6: set()}

    def add(self, block: Block, net: Network | None = None) -> None:
        net = net or parse_network(block.network)
        self.by_net.setdefault(str(net), {})[block.id] = block  # type: ignore[index]
        self.by_id[block.id] = block  # type: ignore[index]
        self.prefixes[net.version].add(net.prefixlen)

    def renumber(self, block: Block, key: str, block_id: int) -> None:
        """Give ``block`` (of the network ``key``) its id: it may be held here under the one it had before."""
        held = self.by_net.get(key, {})
        if held.get(block.id) is block:  # type: ignore[arg-type]
            del held[block.id]  # type: ignore[arg-type]
            held[block_id] = block
        if self.by_id.get(block.id) is block:  # type: ignore[arg-type]
            del self.by_id[block.id]  # type: ignore[arg-type]
            self.by_id[block_id] = block
        block.id = block_id

    def discard(self, block: Block) -> None:
        self.by_net.get(str(parse_network(block.network)), {}).pop(block.id, None)  # type: ignore[arg-type]

    def overlapping(self, net: Network) -> list[Block]:
        found: dict[int, Block] = {}
        for prefix in sorted(self.prefixes[net.version]):
            if prefix <= net.prefixlen:
                wider = net if prefix == net.prefixlen else net.supernet(new_prefix=prefix)
                found.update(self.by_net.get(str(wider), {}))
        if net.prefixlen < net.max_prefixlen:
            for text, held in self.by_net.items():
                other = parse_network(text)
                if other.version == net.version and other.prefixlen > net.prefixlen and other.subnet_of(net):
                    found.update(held)
        return [found[i] for i in sorted(found)]


def _announce(r: Responder, view: _View) -> None:
    """After the commit, what ``on_alert`` does after each decision: log, count, tell listeners, the firewall."""
    for cause, net, alert_id, lasting, message in view.refused:
        r._count_refusal(cause, display(net))
        if lasting:
            r._remember(alert_id)
        elif time.monotonic() - r._cap_logged < 60.0:
            continue
        else:
            r._cap_logged = time.monotonic()
        if r.log_refusals:
            log.warning("not blocking %s (alert #%s): %s", display(net), alert_id, message)
    for block, replaced, reason, net in view.done:
        r._announce_block(block, net, replaced, reason, AUTO)
