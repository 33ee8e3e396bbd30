"""A batch's alert writes handed to the writer process that stores the events, off the parsing process.

Under a flood of attacks a batch writes thousands of alerts. Written by the detection engine, in the parsing
process, that work (binding ~10,000 rows, SQLite's own writing, the commit) and the wait for SQLite's one write
lock, which the writer process holds in turns, sat on the import's critical path while the writer's core idled.
With a :class:`DeferredWrites` around a batch's detection (the pipeline sets :data:`WRITES`), the engine makes the
rows and hands them to the writer process (``ProcessWriter.write_alerts``), which writes them in a transaction of
their own ahead of the batch's events. What needs their ids — the alerts' and incidents' ids, the listeners
(response, live feed) — waits in :attr:`DeferredWrites.pending` until the pipeline settles it: before the next
batch's detection (which must see them in the store) and at the end of the input. So the results are those of
writing them in place: the next batch reads what this one wrote, listeners hear of each batch once, in order.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol


class AlertWriter(Protocol):
    """What a writer offers to write alerts (``netwarden.store.writer.ProcessWriter``)."""

    def write_alerts(self, rows: Any) -> int: ...  # a ticket

    def alerts_written(self, ticket: int) -> tuple[list[int], list[int]]: ...  # (incident ids, alert ids)


class Pending(Protocol):
    def finish(self, writer: Any) -> None: ...

    def drop(self) -> None: ...


class DeferredWrites:
    """Where one batch's alert writes go (``writer``), and what the engine left to do once they are written."""

    def __init__(self, writer: AlertWriter) -> None:
        self.writer = writer
        self.pending: list[Pending] = []

    def hand_over(self, pending: Pending) -> None:
        self.pending.append(pending)

    def finish(self) -> None:
        """Wait for the writes; then ids are set and listeners told. Raises the writer's error (the rest dropped)."""
        pending, self.pending = self.pending, []
        for n, item in enumerate(pending):
            try:
                item.finish(self.writer)
            except BaseException:
                for rest in pending[n + 1:]:
                    rest.drop()
                raise

    def drop(self) -> None:
        """The input failed: what was handed over may not be written."""
        pending, self.pending = self.pending, []
        for item in pending:
            item.drop()


#: set around a batch's detection when its alerts may be written by the writer process
WRITES: ContextVar[DeferredWrites | None] = ContextVar("netwarden_deferred_writes", default=None)
