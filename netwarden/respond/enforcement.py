"""Keeping the firewall in step with the stored blocks, for :class:`~netwarden.respond.responder.Responder`
(a mixin: the responder decides, this applies). Firewall changes run on one background worker, in order; a
block the firewall refused is recorded as failed. Blocks expire by the sweeper and, after a restart or a
change of firewall, ``reconcile`` re-applies the active ones and removes strays."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from netwarden import metrics
from netwarden.networks import AddressError, Network, parse_network
from netwarden.respond.firewall.base import Firewall, FirewallError
from netwarden.respond.worker import FirewallWorker
from netwarden.store.blocks import Block, BlockState, active_blocks, end_block

log = logging.getLogger(__name__)
BlockListener = Callable[[Block, str], None]  # (block, what: "blocked" | "unblocked" | "expired" | "failed")


class Enforcement:
    """The firewall and expiry half of the responder; its state is made in ``Responder.__init__``."""

    db: Any
    settings: Any
    enforce: bool
    backend_name: str
    clock: Callable[[], datetime]
    listeners: list[BlockListener]
    sweep_gate: Callable[[], bool] | None
    _firewall: Firewall | None
    _firewall_ready: bool
    _setup_error: str
    _active: dict[str, tuple[Network, Block]]
    _lock: threading.RLock
    _worker: FirewallWorker | None
    _stop: threading.Event

    if TYPE_CHECKING:  # the responder's; declared for the type checker only, or it would shadow it
        @property
        def firewall(self) -> Firewall: ...

    def _switch_firewall(self) -> None:
        """Move the active blocks to the firewall the settings now name. On the firewall worker, after every
        change already queued: the old firewall lets go of what it holds, then ``reconcile`` applies the active
        blocks to the new one (and removes its strays), as after a start."""
        old, was_ready, blocks = self._firewall, self._firewall_ready, [b for _, b in self._active.values()]
        self._firewall, self._firewall_ready, self._setup_error = None, False, ""
        self.backend_name = self.settings.backend
        if old is not None and was_ready:  # a firewall never set up holds none of our entries
            def release() -> None:
                for b in blocks:
                    try:
                        old.remove(parse_network(b.network))
                    except (FirewallError, AddressError) as exc:
                        log.error("cannot take %s out of the previous firewall %s: %s", b.network, old.name, exc)
                old.close()
            self._submit(release)
        elif old is not None:
            old.close()
        log.info("firewall now %s: %d active blocks move to it", self.backend_name, len(blocks))
        self.reconcile()

    # -- expiry and restarts ------------------------------------------------------------------------

    def sweep(self) -> list[Block]:
        """Expire active blocks whose time is up (and take them out of the firewall)."""
        now = self.clock()
        with self._lock, self.db.engine.begin() as conn:
            due = [b for b in active_blocks(conn) if b.expires is not None and b.expires <= now]
            expired = [b for b in due if end_block(conn, b.id, BlockState.EXPIRED, when=now,
                                                   by="expiry")]
        for b in expired:
            b.state, b.ended, b.ended_by = BlockState.EXPIRED, now, "expiry"
            self._forget(b)
            self._notify(b, "expired")
        return expired

    def sweep_if_mine(self) -> list[Block]:
        """``sweep``, unless ``sweep_gate`` says another process sweeps for all (then nothing)."""
        if self.sweep_gate is not None and not self.sweep_gate():
            return []
        return self.sweep()

    def reconcile(self) -> None:
        """After a start: expire what ran out while we were down, re-apply active blocks, drop strays.

        When enforcement has just been switched on, the dry-run decisions still active end here: they were
        what would have happened, and must neither reach the firewall now nor stand in the way of real blocks.
        """
        self.sweep_if_mine()
        if self.enforce:
            self._end_dry_run_blocks()
        self._load_active()
        if self.enforce:
            blocks = [b for _, b in self._active.values()]
            self._submit(lambda: self._reconcile_firewall(blocks))

    def _reconcile_firewall(self, blocks: list[Block]) -> None:
        """On the firewall worker: re-apply ``blocks`` (active at the start) and remove the entries no block
        stands for. Several processes may share the firewall (workers on a bus, a CLI, a second server), so the
        database is read again *after* the firewall's entries are listed: a block another process decides is
        committed before it reaches the firewall, so an entry listed here is a block that read sees, unless it
        ended meanwhile. Only blocks still active then are re-applied, and one ended while being re-applied is
        taken out again (a third read) instead of staying behind."""
        if not self._ensure_setup():
            return
        fw = self.firewall
        try:
            present = _networks(fw.entries() or ())
        except FirewallError as exc:
            log.error("cannot list the firewall's blocks: %s", exc)
            present = set()
        still = {b.id for b in self._active_now()}
        added = set()
        for b in blocks:
            if b.id not in still or b.mode == "dry-run":
                continue
            try:
                fw.add(parse_network(b.network), b.seconds_left(self.clock()), b.reason)
                added.add(str(parse_network(b.network)))
            except (FirewallError, AddressError) as exc:
                log.error("cannot re-apply block #%s of %s: %s", b.id, b.network, exc)
        wanted = _networks(b.network for b in self._active_now())
        for stray in sorted((present | added) - wanted):
            try:
                fw.remove(parse_network(stray))
            except (FirewallError, AddressError) as exc:
                log.error("cannot remove %s (no longer blocked) from the firewall: %s", stray, exc)

    def _active_now(self) -> list[Block]:
        with self.db.engine.connect() as conn:
            return active_blocks(conn)

    def _end_dry_run_blocks(self) -> None:
        now = self.clock()
        with self._lock, self.db.engine.begin() as conn:
            for b in active_blocks(conn):
                if b.mode == "dry-run":
                    end_block(conn, b.id, BlockState.REMOVED, when=now, by="netwarden",
                              detail="dry-run decision ended: enforcement is on")

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_every):
            try:
                self.sweep_if_mine()
                self._load_active()  # blocks added or removed by another process (CLI, a second server)
            except Exception:  # the database may be away for a moment; try again next round
                if self._stop.is_set():  # asked to stop meanwhile: its database may be closing under it
                    return
                log.exception("block expiry sweep failed")

    def _load_active(self) -> None:
        with self._lock:  # held while reading: a block decided meanwhile must not be lost from the cache
            with self.db.engine.connect() as conn:
                current = active_blocks(conn)
            active = {}
            for b in current:
                net = parse_network(b.network)
                active[str(net)] = (net, b)
            self._active = active

    def _forget(self, block: Block) -> None:
        net = parse_network(block.network)
        with self._lock:
            current = self._active.get(str(net))
            if current is not None and current[1].id == block.id:
                del self._active[str(net)]
        self._apply(lambda: self.firewall.remove(net), block)

    # -- the firewall -------------------------------------------------------------------------------

    def _ensure_setup(self) -> bool:
        if self._firewall_ready:
            return True
        try:
            self.firewall.setup()
        except FirewallError as exc:
            log.error("firewall %s is not ready: %s", self.backend_name, exc)
            self._setup_error = str(exc)
            return False
        self._firewall_ready = True
        return True

    def _submit(self, job: Callable[[], None]) -> None:
        if self._worker is None:
            self._worker = FirewallWorker()
        self._worker.submit(job)

    def _apply(self, change: Callable[[], None], block: Block, *, fail_block: bool = False) -> None:
        """Run a firewall change in the background (enforce mode only); a failed block is recorded."""
        if not self.enforce:
            return

        def job() -> None:
            try:
                if not self._ensure_setup():
                    raise FirewallError(f"firewall {self.backend_name} could not be set up: {self._setup_error}")
                change()
            except (FirewallError, OSError) as exc:
                log.error("firewall %s: block #%s (%s): %s", self.backend_name, block.id, block.network, exc)
                if fail_block:
                    self._record_failure(block, str(exc))
        self._submit(job)

    def _record_failure(self, block: Block, message: str) -> None:
        with self._lock, self.db.engine.begin() as conn:
            changed = end_block(conn, block.id, BlockState.FAILED, when=self.clock(),
                                by=self.backend_name, detail=message)
            if changed:
                block.state, block.detail = BlockState.FAILED, message
                net = parse_network(block.network)
                current = self._active.get(str(net))
                if current is not None and current[1].id == block.id:
                    del self._active[str(net)]
        if changed:
            self._notify(block, "failed")

    def _notify(self, block: Block, what: str) -> None:
        metrics.block_changed(what)
        for listener in self.listeners:
            try:
                listener(block, what)
            except Exception:
                log.exception("block listener failed")


def _networks(texts: Any) -> set[str]:
    """Networks in one spelling (a firewall may list ``198.51.100.7`` for the block ``198.51.100.7/32``)."""
    found = set()
    for text in texts:
        try:
            found.add(str(parse_network(text)))
        except AddressError:
            log.warning("firewall entry %r is not an address; left alone", text)
    return found
