"""Live counts of what each active model judged, per hour: how many events it scored and how many it flagged.

The ``ml`` detector counts as it scores (by the events' own time, like every detector, so a replayed log
lands in its own hours), and the counts ride in the detector's saved state: the detection engine stores
them with the other detectors' state (every ``state_every`` seconds and when ingest ends), a restart
carries on from them, and a backtest (no store) never writes them. Workers of a scale-out add each batch's
counts to a shared row instead (``add_to_store``, in the batch's transaction: a redelivery counts nothing
twice). ``model show`` and the model lab read
them back and compare each period's flagged share with the calibrated rate: drift is seen as it happens,
without re-scoring stored events.

Bounded: ``KEEP_HOURS`` hourly buckets per model (the newest), at most ``MAX_MODELS`` models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from netwarden.records import Event

if TYPE_CHECKING:
    import numpy as np  # imported by add: the ml detector loads this module at every start, numpy only with a model

HOUR = 3600
KEEP_HOURS = 24 * 14  # two weeks of hours per model
MAX_MODELS = 50  # models no longer active drop out first (least recently counted)
# the saved state that the workers of a scale-out add their counts to (each batch's, in its transaction):
# the ml detector's own state would be overwritten by each worker with its share
SHARED = "ml.live"


class LiveCounts:
    """{model ref: {hour (epoch seconds // 3600): [scored, flagged]}}, JSON-ready through ``to_state``."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[int, list[int]]] = {}

    def add(self, ref: str, events: Sequence[Event], flagged: np.ndarray, now: datetime | None = None) -> None:
        """Count ``events`` (scored by model ``ref``) and which of them were ``flagged``, by event hour."""
        import numpy as np

        if not len(events):
            return
        fallback = int((now or datetime.now(UTC)).timestamp()) // HOUR
        hours = [int(e.timestamp.timestamp()) // HOUR if e.timestamp is not None else fallback for e in events]
        buckets = self.counts.pop(ref, None) or {}
        self.counts[ref] = buckets  # re-inserted: the dict's order is the least recently counted first
        if min(hours) == max(hours):  # one hour (the usual live batch): no grouping
            cell = buckets.setdefault(hours[0], [0, 0])
            cell[0] += len(events)
            cell[1] += int(np.count_nonzero(flagged))
        else:
            hit = np.asarray(flagged, dtype=bool)
            for hour, f in zip(hours, hit):
                cell = buckets.setdefault(hour, [0, 0])
                cell[0] += 1
                cell[1] += int(f)
        self._trim(buckets)

    def merge(self, other: LiveCounts) -> LiveCounts:
        """Add ``other``'s counts to these (another worker's, or those saved apart); returns self."""
        for ref, theirs in other.counts.items():
            buckets = self.counts.pop(ref, None) or {}
            self.counts[ref] = buckets
            for hour, (scored, flagged) in theirs.items():
                cell = buckets.setdefault(hour, [0, 0])
                cell[0] += scored
                cell[1] += flagged
            self._trim(buckets)
        return self

    def _trim(self, buckets: dict[int, list[int]]) -> None:
        if len(buckets) > KEEP_HOURS:
            for old in sorted(buckets)[:-KEEP_HOURS]:
                del buckets[old]
        while len(self.counts) > MAX_MODELS:
            del self.counts[next(iter(self.counts))]

    def to_state(self) -> dict[str, Any]:
        return {ref: {str(h): c for h, c in buckets.items()} for ref, buckets in self.counts.items()}

    @classmethod
    def from_state(cls, state: Any) -> LiveCounts:
        """Counts saved by ``to_state``; anything malformed is dropped (counts are not worth refusing a start)."""
        out = cls()
        if not isinstance(state, dict):
            return out
        for ref, buckets in state.items():
            if not isinstance(buckets, dict):
                continue
            kept = {}
            for hour, cell in buckets.items():
                try:
                    scored, flagged = int(cell[0]), int(cell[1])
                    kept[int(hour)] = [scored, flagged]
                except (TypeError, ValueError, IndexError):
                    continue
            out.counts[str(ref)] = kept
        return out

    def hours(self, ref: str, since: datetime) -> list[dict[str, Any]]:
        """The hourly counts of ``ref`` from ``since`` on, oldest first."""
        start = int(since.timestamp()) // HOUR
        buckets = self.counts.get(ref, {})
        return [{"hour": datetime.fromtimestamp(h * HOUR, UTC).isoformat(), "scored": c[0], "flagged": c[1]}
                for h, c in sorted(buckets.items()) if h >= start]


def summary(hours: Iterable[dict[str, Any]], expected: float | None, *, factor: float, min_flagged: int,
            since: datetime) -> dict[str, Any]:
    """Totals of the hourly counts, their ratio to the calibrated rate ``expected``, the hours over ``factor``
    times it (with at least ``min_flagged`` flagged, else noise) and a warning when the whole period is."""
    rows = list(hours)
    scored = sum(r["scored"] for r in rows)
    flagged = sum(r["flagged"] for r in rows)
    rate = flagged / scored if scored else None
    out: dict[str, Any] = {"since": since.isoformat(), "scored": scored, "flagged": flagged, "rate": rate,
                           "calibrated": expected, "ratio": None, "hours": rows, "hours_over": 0, "warning": None}
    if not expected:
        return out
    for r in rows:
        r["rate"] = r["flagged"] / r["scored"] if r["scored"] else None
        r["over"] = bool(r["scored"] and r["flagged"] >= min_flagged and r["rate"] > factor * expected)
    out["hours_over"] = sum(r["over"] for r in rows)
    if rate is not None:
        out["ratio"] = round(rate / expected, 3)
        if rate > factor * expected and flagged >= min_flagged:
            out["warning"] = (f"live: the model flagged {rate:.2%} of the {scored:,} events it judged since "
                              f"{since:%Y-%m-%d %H:%M} UTC, {rate / expected:.1f}x its calibrated {expected:.2%} "
                              f"({out['hours_over']} of {len(rows)} hours over {factor:g}x)")
    return out


def load(db: Any) -> LiveCounts:
    """The counts in the store (empty when the ml detector never ran): those the single process saved with
    the detector's state, plus those the workers of a scale-out added (``SHARED``). The two never count the
    same event: workers do not save the detector's state."""
    from netwarden.store import alerts as alert_store

    with db.engine.connect() as conn:
        state = alert_store.load_state(conn, "ml") or {}
        shared = alert_store.load_state(conn, SHARED)
    return LiveCounts.from_state(state.get("live")).merge(LiveCounts.from_state(shared))


def add_to_store(conn: Any, counts: LiveCounts) -> None:
    """Add ``counts`` to the shared counts (``SHARED``), in the caller's transaction (a worker's batch)."""
    from netwarden.store.shared_state import add_to_state

    if counts.counts:
        add_to_state(conn, SHARED, lambda state: LiveCounts.from_state(state).merge(counts).to_state())
