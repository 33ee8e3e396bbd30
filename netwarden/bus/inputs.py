"""A file's lines on the bus (``netwarden ingest FILE`` and ``netwarden follow`` with a ``[bus]``), exactly once
in effect.

The file's resume position stays where the single process keeps it, in ``ingest_sources`` of the shared
database (the file is recognised by its content as before), and is advanced only after the bus accepted the
batch. A producer killed between the two would publish those lines again on its next run; so the bus keeps,
per input, the last line it accepted (``P:published:<source id>``), set in the same Redis transaction
(WATCH/MULTI/EXEC) as the batch's entries, and a producer publishes only the lines after it. Two producers of
the same file at once (a follow and an ingest) cannot both publish a line either: the second one's
transaction fails on the changed mark and it filters again.

Each event carries its source id and line number (stored in ``events.source_id``/``line_no`` as a single
process stores them), and each entry's id is made of the input and its line range, the same on every
redelivery, so a worker's ledger stores it once.
"""

from __future__ import annotations

import orjson
import redis

from netwarden import metrics
from netwarden.bus.codec import encode_events, encode_quarantined
from netwarden.bus.redis_bus import RedisBus
from netwarden.pipeline.batch import Batch
from netwarden.pipeline.stages import stamp_arrival


class BusFull(RuntimeError):
    """The bus stayed full for ``[bus] max_wait``: nothing of the batch was published, its position is kept."""


def published_key(bus: RedisBus, source_id: int) -> str:
    return f"{bus.prefix}:published:{source_id}"


def published_up_to(bus: RedisBus, source_id: int) -> int:
    """The last line of input ``source_id`` the bus accepted (0: none)."""
    return int(bus.redis.get(published_key(bus, source_id)) or 0)


def publish_input(bus: RedisBus, batch: Batch, *, source: str, fmt: str, source_id: int, last_line: int,
                  patient: bool) -> tuple[int, int]:
    """Publish the lines of ``batch`` (lines up to ``last_line`` of input ``source_id``) that the bus has not
    accepted yet, and mark ``last_line`` accepted, all at once. Returns the events and quarantined lines
    published. While the bus is full: wait (``patient``, a whole file), or raise :class:`BusFull`."""
    key = published_key(bus, source_id)
    stamp_arrival(batch.events)
    while True:
        with bus.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                mark = int(pipe.get(key) or 0)
                if last_line <= mark:
                    return 0, 0  # published by an earlier run that died before storing its position
                # records from no line (a capture's flows) belong to the batch's last line
                keep = [i for i, n in enumerate(batch.line_numbers) if (n if n is not None else last_line) > mark]
                events = [batch.events[i] for i in keep]
                numbers = [batch.line_numbers[i] for i in keep]
                quarantined = [q for q in batch.quarantined if (q.line_no or last_line) > mark]
                entries = bus.split(events, quarantined, source, numbers)
                for partition, *_ in entries:
                    bus.ensure_group(partition)
                    while not bus.wait_for_room(partition):
                        if not patient:
                            raise BusFull(f"the bus stayed full for {bus.settings.max_wait:g}s; "
                                          f"{source} waits at line {mark}")
                pipe.multi()
                for partition, chunk, part, part_numbers, q in entries:
                    fields = {"id": f"f{source_id}:{mark + 1}-{last_line}:{partition}.{chunk}", "source": source[:500],
                              "fmt": fmt, "events": encode_events(part), "sid": str(source_id),
                              "lines": orjson.dumps(part_numbers)}
                    if q:
                        fields["quarantined"] = encode_quarantined(q)
                    pipe.xadd(bus.stream(partition), fields, maxlen=bus.settings.history, approximate=True)
                pipe.set(key, last_line)
                pipe.execute()
            except redis.WatchError:
                continue  # another producer of the same input published meanwhile: filter again
        metrics.BUS_PUBLISHED.labels(metrics.source_label(source)).inc(len(events))
        return len(events), len(quarantined)
