"""``serve`` with a ``[bus]``: its collectors publish to the bus instead of detecting and storing here, and
its live feed shows what the workers publish (alerts, blocks, stored events) — so any number of web processes
(``serve --web-only``) show the same live feed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netwarden import metrics

if TYPE_CHECKING:
    from netwarden.bus.produce import BusPipeline


@dataclass(frozen=True)
class BusAttachment:
    """What ``serve`` gives its runtime when it has a [bus]."""

    intake: BusPipeline  # what the collectors and the HTTP intake feed (it publishes, workers store)
    sweep_gate: Callable[[], bool]  # whether this process leads the expiry sweep (netwarden.bus.leader)


def attach_bus(settings: Any, db: Any, hub: Any, stack: ExitStack) -> BusAttachment:
    """Connect to the bus and follow its live feed into ``hub`` (the runtime's, made before the runtime);
    returns the intake pipeline and the sweep gate the runtime is then built with, so that its responder
    sweeps expired blocks only while this process leads. Everything stops with ``stack``."""
    from netwarden.bus.leader import sweeper
    from netwarden.bus.produce import BusPipeline
    from netwarden.bus.redis_bus import RedisBus

    bus = RedisBus(settings.bus)
    stack.callback(bus.close)
    metrics.set_ready_check("bus", bus.ping)
    stack.callback(metrics.set_ready_check, "bus", None)
    metrics.add_collector(bus.gauges)
    stack.callback(metrics.remove_collector, bus.gauges)
    stop = threading.Event()

    def follow() -> None:
        for topic, data in bus.follow_live(stop):
            hub.publish(topic, data)

    thread = threading.Thread(target=follow, name="bus-live", daemon=True)
    thread.start()
    stack.callback(thread.join, 5)
    stack.callback(stop.set)
    leader = sweeper(bus, bus.producer, settings)
    stack.callback(leader.close)
    intake = BusPipeline(db, bus, max_line_bytes=settings.ingest.max_line_bytes, local_tz=settings.local_tz())
    return BusAttachment(intake, leader)
