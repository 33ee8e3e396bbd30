"""One process at a time, among all those on the bus (workers, ``serve``), runs a periodic job for everyone:
the block-expiry sweep. Each process's responder asks before each sweep; the answer is whether it holds the
lease ``P:leader:<job>`` (SET NX PX, renewed by its holder at each question). A holder that died loses it
after ``seconds``; one that closes hands it over at once."""

from __future__ import annotations

import logging
from typing import Any

import redis

log = logging.getLogger(__name__)


class Leader:
    def __init__(self, bus: Any, job: str, holder: str, seconds: float) -> None:
        self.bus = bus
        self.key = f"{bus.prefix}:leader:{job}"
        self.holder = holder
        self.seconds = seconds  # longer than the time between two questions, or the lease lapses between them

    def __call__(self) -> bool:
        try:
            return self.bus.hold(self.key, self.holder, self.seconds)
        except redis.RedisError as exc:  # the bus is away: better no sweep for a while than one by everyone
            log.warning("bus: cannot tell who sweeps expired blocks: %s", exc)
            return False

    def close(self) -> None:
        try:
            self.bus.let_go(self.key, self.holder)
        except redis.RedisError:
            pass  # the lease expires by itself


def sweeper(bus: Any, holder: str, settings: Any) -> Leader:
    """The leadership of the block-expiry sweep, for a process whose responder sweeps every
    ``[respond] sweep_every`` seconds (the lease outlives three of its rounds)."""
    return Leader(bus, "sweeper", holder, max(3 * settings.respond.sweep_every, settings.bus.lease_seconds))
