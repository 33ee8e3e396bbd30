"""``serve`` with a ``[bus]``: its collectors publish to the bus instead of detecting and storing here, and
its live feed shows what the workers publish (alerts, blocks, stored events) — so any number of web processes
(``serve --web-only``) show the same live feed."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import Any

from netwarden import metrics


def attach_bus(settings: Any, db: Any, runtime: Any, stack: ExitStack) -> Any:
    """Connect to the bus, follow its live feed into the runtime's hub; returns the pipeline the collectors
    should feed (a :class:`~netwarden.bus.produce.BusPipeline`), which the HTTP intake feeds too
    (``runtime.intake``). Call it before ``runtime.build_pipeline``: its responder then sweeps expired blocks
    only while this process leads (``runtime.sweep_gate``). Everything stops with ``stack``."""
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
            runtime.hub.publish(topic, data)

    thread = threading.Thread(target=follow, name="bus-live", daemon=True)
    thread.start()
    stack.callback(thread.join, 5)
    stack.callback(stop.set)
    leader = sweeper(bus, bus.producer, settings)
    runtime.sweep_gate = leader
    stack.callback(leader.close)
    runtime.intake = BusPipeline(db, bus, max_line_bytes=settings.ingest.max_line_bytes,
                                 local_tz=settings.local_tz())
    return runtime.intake
