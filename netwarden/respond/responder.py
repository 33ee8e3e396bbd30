"""The responder: decides, records and applies blocks; expires them; re-applies them after a restart.

Told of each batch's alerts by the pipeline (``respond.attach.Response.on_alerts`` calls ``on_alerts``, which decides
as ``on_alert`` would for each, batched: ``respond.batch``):

- an alert whose confidence reaches the threshold for its kind blocks its source automatically;
  below it, the alert waits for a person (``netwarden block add --alert ID``);
- the never-block list is checked before every block, automatic or manual;
- repeat offenders get longer blocks (``durations``: 10 min, 1 h, 1 day by default);
- a block never feeds itself: an alert about a source that is blocked, or whose evidence ends before its
  last block did, causes nothing (see also ``EvidenceFilter``);
- in ``dry-run`` mode every decision is recorded and no firewall is touched.

Expiry does not depend on NetWarden running: the firewall entries carry their own timeouts, ``start()``
reconciles the store with the firewall (expired → removed, active → re-applied, strays → removed), and a
sweeper thread expires blocks while running.
"""

from __future__ import annotations

import logging
import threading
import weakref
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from netwarden.durations import parse_duration
from netwarden.networks import AddressError, Network, block_target, display, parse_network
from netwarden.records import Alert, AlertStatus
from netwarden.respond.enforcement import BlockListener, Enforcement
from netwarden.respond.firewall.base import Firewall, create
from netwarden.respond.never_block import NeverBlockList
from netwarden.respond.refusals import (
    WIDEST_WITHOUT_FORCE,
    BlockRefused,
    Capped,
    LongerBlockKept,
    WideBlockNeedsForce,
    covering,
    kept_message,
    outlasts,
)
from netwarden.respond.settings import RespondSettings
from netwarden.respond.worker import FirewallWorker
from netwarden.store.blocks import (
    AUTO,
    Block,
    BlockState,
    count_active_auto,
    earlier_blocks,
    end_block,
    get_block,
    insert_block,
    overlapping_active,
)

if TYPE_CHECKING:
    from netwarden.config import Settings
    from netwarden.store.database import Database

log = logging.getLogger(__name__)
DECIDED_LIMIT = 50_000
CAP_LOG_EVERY = 60.0  # seconds
REFUSED_NETWORKS_KEPT = 10_000  # per cause, for the summary's count of distinct networks


def _now() -> datetime:
    return datetime.now(timezone.utc)


# Responders with a running sweeper, so that whoever owns a process's life (tests between cases) can stop
# those nobody closed
RUNNING: weakref.WeakSet[Responder] = weakref.WeakSet()


class Responder(Enforcement):
    def __init__(self, db: Database, settings: RespondSettings | None = None, *, home: Iterable[str] = (),
                 firewall: Firewall | None = None, clock: Callable[[], datetime] = _now,
                 sweep_gate: Callable[[], bool] | None = None) -> None:
        self.db = db
        self.settings = settings or RespondSettings()
        self._home = list(home)
        self.never_block = NeverBlockList.from_settings(self.settings, self._home)
        self.enforce = self.settings.mode == "enforce"
        self.backend_name = firewall.name if firewall is not None else self.settings.backend
        self._firewall = firewall
        self._firewall_ready = False
        self._setup_error = ""
        self.clock = clock
        self.listeners: list[BlockListener] = []
        # automatic blocks refused, by cause, and the networks refused (a file import prints a summary of
        # these instead of a line per alert: set log_refusals False)
        self.refusals: Counter[str] = Counter()
        self.refused_networks: dict[str, set[str]] = {}
        self.log_refusals = True
        self._steps = self.settings.duration_steps()
        self._history = parse_duration(self.settings.history)
        self._history_after = parse_duration(self.settings.history_after)
        self._cap_recorded: OrderedDict[int, None] = OrderedDict()  # alerts whose cap refusal is on record
        self._active: dict[str, tuple[Network, Block]] = {}  # network text → (network, block)
        self._lock = threading.RLock()
        self._decided: OrderedDict[int, None] = OrderedDict()  # alert ids already refused (logged once)
        self._cap_logged = -CAP_LOG_EVERY
        self._worker: FirewallWorker | None = None
        self._sweeper: threading.Thread | None = None
        # with a [bus], several processes respond: only the one this says yes to sweeps (netwarden.bus.leader)
        self.sweep_gate = sweep_gate
        self._stop = threading.Event()
        self._load_active()

    def reconfigure(self, settings: RespondSettings) -> None:
        """New settings while running (the web app's live settings): threshold, never-block list, mode,
        durations and history apply to the next decision. Another firewall (backend, its section or its network
        namespace) takes over the active blocks: they are taken out of the old one and applied to the new one."""
        with self._lock:
            switch = _firewall_key(settings) != _firewall_key(self.settings)
            self.settings = settings
            self.never_block = NeverBlockList.from_settings(settings, self._home)
            self.enforce = settings.mode == "enforce"
            self._steps = settings.duration_steps()
            self._history = parse_duration(settings.history)
            self._history_after = parse_duration(settings.history_after)
            if switch:
                self._switch_firewall()

    @classmethod
    def from_settings(cls, db: Database, settings: Settings, *,
                      sweep_gate: Callable[[], bool] | None = None) -> Responder:
        return cls(db, settings.respond, home=settings.network.home, sweep_gate=sweep_gate)

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self, *, sweep: bool = True) -> Responder:
        """Reconcile the store with the firewall, then expire blocks on time in a background thread."""
        self.reconcile()
        if sweep and self._sweeper is None:
            self._sweeper = threading.Thread(target=self._sweep_loop, name="netwarden-block-expiry", daemon=True)
            self._sweeper.start()
            RUNNING.add(self)
        return self

    def close(self) -> None:
        RUNNING.discard(self)
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(5)
            self._sweeper = None
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        if self._firewall is not None:
            self._firewall.close()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every firewall change decided so far has been applied (tests, CLI)."""
        return self._worker.flush(timeout) if self._worker is not None else True

    @property
    def firewall(self) -> Firewall:
        if self._firewall is None:
            self._firewall = create(self.settings, netns=self.settings.netns or None)
        return self._firewall

    # -- automatic decisions ------------------------------------------------------------------------

    def on_alert(self, alert: Alert, is_new: bool) -> None:
        """Engine listener: block the alert's source when the alert is confident enough."""
        if not self.settings.auto_block or not alert.source or alert.id in self._decided:
            return
        if alert.status not in (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED):
            return
        if self.is_history(alert):
            return  # old evidence (an import of last year's logs): alerted, never acted on
        if alert.confidence < self.settings.threshold_for(alert.kind):
            return  # waits for a person
        try:
            net = block_target(alert.source, self.settings.ipv6_prefix)
        except AddressError:
            return
        if self.covering_block(net) is not None:
            return  # already blocked: what it does now is refused traffic, not new evidence
        if self._evidence_predates_last_block(net, alert):
            return
        reason = f"{alert.kind}{'/' + alert.subkind if alert.subkind else ''} alert #{alert.id}, " \
                 f"confidence {alert.confidence:.2f}"
        try:
            self.block(alert.source, reason=reason, by=AUTO, alert_id=alert.id)
        except BlockRefused as exc:
            self._count_refusal(exc.cause, display(net))
            if exc.lasting:
                self._remember(alert.id)
            elif time.monotonic() - self._cap_logged < CAP_LOG_EVERY:
                return  # the cap is reached: said once a minute, not for every alert update
            else:
                self._cap_logged = time.monotonic()
            if self.log_refusals:
                log.warning("not blocking %s (alert #%s): %s", display(net), alert.id, exc)

    def on_alerts(self, alerts: list[Alert]) -> None:
        """A batch's alerts: the decisions ``on_alert`` makes for each, with a few queries for the batch."""
        from netwarden.respond.batch import decide

        decide(self, alerts)

    def _count_refusal(self, cause: str, network: str) -> None:
        self.refusals[cause] += 1
        networks = self.refused_networks.setdefault(cause, set())
        if len(networks) < REFUSED_NETWORKS_KEPT:
            networks.add(network)

    def is_history(self, alert: Alert) -> bool:
        """An alert whose newest evidence is older than ``history_after``: it tells what happened, it is
        no reason to act now (the engine marks it; the clock is checked here too, for alerts from elsewhere)."""
        return alert.history or alert.last_seen < self.clock() - self._history_after

    def _remember(self, alert_id: int | None) -> None:
        _note(self._decided, alert_id)

    def _evidence_predates_last_block(self, net: Network, alert: Alert) -> bool:
        """True when the alert's newest evidence is no later than the end of this network's last block:
        that evidence is what the block refused (403s, resets), not a reason for a new, longer block."""
        with self.db.engine.connect() as conn:
            earlier = earlier_blocks(conn, net, self.clock() - self._history)
        if not earlier:
            return False
        last = earlier[-1]
        # the firewall dropped the entry at ``expires`` even if the sweep recorded it later
        ends = [t for t in (last.ended, last.expires) if t is not None]
        return bool(ends) and alert.last_seen <= min(ends)

    # -- blocking -----------------------------------------------------------------------------------

    def block(self, address: str, *, reason: str, by: str, alert_id: int | None = None,
              duration: timedelta | None = None, permanent: bool = False, force: bool = False) -> Block:
        """Decide, record and (in enforce mode) apply one block. Raises BlockRefused or AddressError.

        A manual block wider than /24 (IPv4) or /48 (IPv6) needs ``force``; a block that would end an active
        block lasting longer raises LongerBlockKept; refusals by the never-block list or the cap are
        recorded (state ``refused``) before they are raised.
        """
        net = block_target(address, self.settings.ipv6_prefix)
        mode = "enforce" if self.enforce else "dry-run"
        now = self.clock()
        record = {"reason": reason, "by": by, "alert_id": alert_id, "mode": mode, "now": now}
        refusal = self.never_block.refusal(net)
        if refusal:
            message = f"{display(net)} is never blocked: {refusal}"
            self._store_refusal(net, message, **record)
            raise BlockRefused(message, cause="never-block list")
        widest = WIDEST_WITHOUT_FORCE[net.version]
        if by != AUTO and not force and net.prefixlen < widest:
            raise WideBlockNeedsForce(f"{display(net)} is {net.num_addresses:,} addresses, wider than a /{widest}: "
                                      "confirm that you mean the whole network")
        try:
            block, replaced = self._decide(net, reason=reason, by=by, alert_id=alert_id, duration=duration,
                                           permanent=permanent, mode=mode, now=now)
        except Capped as capped:  # recorded in a transaction of its own: the decision's was rolled back
            if alert_id is None or alert_id not in self._cap_recorded:
                self._store_refusal(net, str(capped), **record)
                self._note_cap_recorded(alert_id)
            raise BlockRefused(str(capped), lasting=False, cause="block cap") from None
        with self._lock:
            for old in replaced:
                self._active.pop(str(parse_network(old.network)), None)
            self._active[str(net)] = (net, block)
        self._announce_block(block, net, replaced, reason, by)
        return block

    def _announce_block(self, block: Block, net: Network, replaced: list[Block], reason: str, by: str) -> None:
        """After a block's commit: the blocks it replaced leave the firewall, it is logged, listeners hear of it,
        and the firewall gets it (through the worker, in enforce mode)."""
        for old in replaced:
            old_net = parse_network(old.network)
            if old_net != net:
                self._apply(lambda n=old_net: self.firewall.remove(n), old)
        log.info("blocked %s until %s (%s, by %s)%s", block.network,
                 block.expires.isoformat() if block.expires else "removed by hand", reason, by,
                 "" if self.enforce else " [dry-run: firewall untouched]")
        self._notify(block, "blocked")
        self._apply(lambda: self.firewall.add(net, block.seconds_left(self.clock()), block.reason), block,
                    fail_block=True)

    def _decide(self, net: Network, *, reason: str, by: str, alert_id: int | None, duration: timedelta | None,
                permanent: bool, mode: str, now: datetime) -> tuple[Block, list[Block]]:
        """Record the block in one transaction; returns it and the blocks it replaced."""
        automatic = by == AUTO
        with self._lock, self.db.engine.begin() as conn:
            overlapping = overlapping_active(conn, net)
            wider = [b for b in overlapping if parse_network(b.network).supernet_of(net)
                     and parse_network(b.network) != net]
            if wider:
                raise BlockRefused(f"{display(net)} is already blocked by block #{wider[0].id} "
                                   f"({wider[0].network})")
            same = [b for b in overlapping if parse_network(b.network) == net]
            if automatic and same:
                raise BlockRefused(f"{display(net)} is already blocked (block #{same[0].id})")
            if automatic and count_active_auto(conn) >= self.settings.max_auto_blocks:
                raise Capped(f"the cap of {self.settings.max_auto_blocks} active automatic blocks is "
                              "reached ([respond] max_auto_blocks)")
            # escalation counts what reached the firewall: dry-run decisions blocked nobody
            level = len(earlier_blocks(conn, net, now - self._history, enforced_only=True))
            if permanent:
                expires = None
            else:
                expires = now + (duration or self._steps[min(level, len(self._steps) - 1)])
            longer = [b for b in overlapping if outlasts(b.expires, expires)]
            if longer:
                raise LongerBlockKept(kept_message(net, longer, expires), longer)
            block = insert_block(conn, Block(
                network=display(net), reason=reason, backend=self.backend_name, mode=mode, created_by=by,
                created=now, expires=expires, level=level, alert_id=alert_id), net)
            replaced = []
            for old in overlapping:  # the same network, or narrower ones the new block covers
                end_block(conn, old.id, BlockState.REMOVED, when=now, by=by,
                          detail=f"replaced by block #{block.id}")
                replaced.append(old)
        return block, replaced

    def _store_refusal(self, net: Network, message: str, *, reason: str, by: str, alert_id: int | None,
                       mode: str, now: datetime) -> None:
        """A refusal is a record too (state ``refused``, the why in ``detail``): shown on the Blocked page."""
        with self._lock, self.db.engine.begin() as conn:
            insert_block(conn, Block(network=display(net), reason=reason or "block", backend=self.backend_name,
                                     mode=mode, created_by=by, created=now, expires=None, state=BlockState.REFUSED,
                                     alert_id=alert_id, ended=now, ended_by="netwarden", detail=message), net)

    def _note_cap_recorded(self, alert_id: int | None) -> None:
        _note(self._cap_recorded, alert_id)

    def unblock(self, target: str | int, *, by: str) -> list[Block]:
        """End the active block with this id, or every active block covering this address/network."""
        now = self.clock()
        with self._lock, self.db.engine.begin() as conn:
            if isinstance(target, int):
                found = get_block(conn, target)
                found_list = [found] if found is not None and found.state == BlockState.ACTIVE else []
            else:
                net = block_target(target, self.settings.ipv6_prefix)
                found_list = overlapping_active(conn, net)
            ended = [b for b in found_list
                     if end_block(conn, b.id, BlockState.REMOVED, when=now, by=by)]
        for b in ended:
            b.state, b.ended, b.ended_by = BlockState.REMOVED, now, by
            self._forget(b)
            self._notify(b, "unblocked")
        return ended

    def covering_block(self, net: Network) -> Block | None:
        """The active block that covers this network, from memory (no database round trip)."""
        return covering(self._active, net)

    def any_enforced(self) -> bool:
        return self.enforce and bool(self._active)

    def refuses(self, address: str) -> bool:
        """Is traffic from ``address`` being dropped by a block of ours (enforced, not dry-run)?"""
        try:
            block = self.covering_block(parse_network(address))
        except AddressError:
            return False
        return block is not None and block.mode == "enforce"

    def is_blocked(self, address: str) -> bool:
        try:
            net = parse_network(address)
        except AddressError:
            return False
        return self.covering_block(net) is not None



def _note(seen: OrderedDict[int, None], alert_id: int | None) -> None:
    """Remember an alert in ``seen``, the oldest forgotten past DECIDED_LIMIT."""
    if alert_id is None:
        return
    seen[alert_id] = None
    if len(seen) > DECIDED_LIMIT:
        seen.popitem(last=False)


def _firewall_key(settings: RespondSettings) -> tuple[str, str, str]:
    """What makes a firewall another one: the backend, its network namespace and its own settings."""
    section = settings.section(settings.backend)
    return settings.backend, settings.netns, section.model_dump_json() if section is not None else ""
