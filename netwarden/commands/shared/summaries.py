"""The summaries printed after reading input: per file (``ingest``, ``follow``), per capture, the total of
several files, what detection raised, and what the responder refused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from rich.text import Text

from netwarden.commands.shared.terminal import err, out, safe
from netwarden.text import plural

if TYPE_CHECKING:
    from netwarden.detect.engine import DetectionEngine
    from netwarden.pipeline import IngestResult
    from netwarden.respond.responder import Responder


class LineCounts(Protocol):
    """What reading a log file counted (an import's result, a followed file's stats)."""

    lines: int
    events: int
    skipped: int
    quarantined: Counter
    bad_utf8: int
    resumed_at_line: int

    @property
    def quarantined_total(self) -> int: ...


def heading(source: str, fmt: str) -> Text:
    return Text.assemble((safe(source), "bold"), f"  [{fmt}]")


def print_line_counts(counts: LineCounts, *, earlier: str) -> None:
    """Lines read, events stored, quarantined by reason; ``earlier`` names what stored the lines skipped."""
    if counts.resumed_at_line:
        out.print(f"  resumed after line {counts.resumed_at_line:,} (stored by an earlier {earlier})")
    out.print(f"  lines read        {counts.lines:>12,}")
    out.print(f"  events stored     {counts.events:>12,}")
    if counts.skipped:
        out.print(f"  headers/blank     {counts.skipped:>12,}")
    out.print(f"  quarantined       {counts.quarantined_total:>12,}")
    for reason, count in counts.quarantined.most_common():
        out.print(f"    {safe(reason):<16}{count:>12,}")
    if counts.bad_utf8:
        out.print(f"  invalid UTF-8     {counts.bad_utf8:>12,}  (kept, bad bytes escaped)")


def print_ingested(r: IngestResult) -> None:
    """One input of ``netwarden ingest``: a log file or a capture."""
    out.print(heading(r.source, r.format))
    if r.already_done:
        out.print("  already ingested: nothing new since the last import")
        return
    if r.unit == "packets":
        _print_capture(r)
        return
    print_line_counts(r, earlier="import")
    out.print(f"  time              {r.seconds:>11.2f}s  ({r.events_per_second:,.0f} events/s)")


def _print_capture(r: IngestResult) -> None:
    c = r.capture or {}
    if r.resumed_at_line:
        out.print(f"  resumed after packet {r.resumed_at_line:,} (stored by an earlier import)")
    out.print(f"  packets read      {r.lines:>12,}")
    out.print(f"  flows             {c.get('flows', 0):>12,}")
    out.print(f"  events stored     {r.events:>12,}  (flows and HTTP requests)")
    for key, label in (("fragments", "IP fragments"), ("non_ip", "not IP"), ("truncated", "cut by snaplen"),
                       ("evicted", "flows evicted")):
        if c.get(key):
            out.print(f"  {label:<18}{c[key]:>12,}")
    for reason, count in sorted((c.get("skipped") or {}).items(), key=lambda kv: -kv[1]):
        out.print(f"  skipped {safe(reason):<22}{count:>8,}")
    if c.get("stopped"):
        out.print(Text(f"  capture unreadable from here on: {safe(c['stopped'])}", style="yellow"))
    rate = r.lines / r.seconds if r.seconds > 0 else 0.0
    out.print(f"  time              {r.seconds:>11.2f}s  ({rate:,.0f} packets/s)")


def print_total(results: Sequence[IngestResult]) -> None:
    seconds = sum(r.seconds for r in results)
    events = sum(r.events for r in results)
    quarantined: Counter = Counter()
    for r in results:
        quarantined.update(r.quarantined)
    out.print(Text("total", style="bold"))
    out.print(f"  files {len(results):,}, lines {sum(r.lines for r in results):,}, events {events:,}, "
              f"quarantined {sum(quarantined.values()):,}, {events / seconds if seconds else 0:,.0f} events/s")


def print_detection(engine: DetectionEngine) -> None:
    """The alerts raised while reading (the ten most severe), and models that failed."""
    stats = engine.stats
    out.print(Text("detection", style="bold"))
    out.print(f"  alerts            {stats.alerts_new:>12,} new, {plural(stats.alerts_updated, 'update')}"
              + (f", {stats.suppressed:,} suppressed (false positives)" if stats.suppressed else ""))
    for alert in sorted(engine.alerts, key=lambda a: (-a.severity.rank, -a.confidence))[:10]:
        out.print(Text(f"    #{alert.id or '-'} {alert.severity:<8} {alert.confidence:.2f}  "
                       f"{safe(alert.kind)}/{safe(alert.subkind)}  {safe(alert.source or '-')}  "
                       f"{safe(alert.factors[0].detail if alert.factors else '')}"))
    if len(engine.alerts) > 10:
        out.print("    ... see `netwarden alerts`")
    for name, counts in engine.state_counts().items():
        if counts.get("evicted"):  # a table was full: what those sources did is forgotten
            out.print(f"  state             {name}: {counts['sources']:,} sources held, {counts['evicted']:,} "
                      f"evicted (table full), {counts['expired']:,} expired")
    for detector in engine.detectors:
        for ref, batches in sorted(getattr(detector, "model_failures", {}).items()):
            err.print(Text(f"  model {safe(ref)} failed on {batches:,} batch{'es' if batches != 1 else ''} and "
                           "raised no alerts (see the log; `netwarden model deactivate` it)", style="red"))


def print_refusals(responder: Responder) -> None:
    """One line for every block the never-block list or the cap refused while reading."""
    if not responder.refusals:
        return
    causes = ", ".join(f"{cause} {count:,} ({plural(len(responder.refused_networks.get(cause, ())), 'network')})"
                       for cause, count in responder.refusals.most_common())
    out.print(f"  blocks refused    {sum(responder.refusals.values()):>12,}  {causes}; "
              "see `netwarden block list --refused`")
