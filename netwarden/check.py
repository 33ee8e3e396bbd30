"""Check one event: is this connection or log line an attack, and why?

An analyst enters one connection (addresses, protocol, port, packet size, bytes, TCP flags) or pastes one
log line (its format sniffed with the registered parsers). The verdict collects reasons from:

- every detector, on a throwaway detection engine without a database (nothing is stored): the
  single-event rules fire (web attack signatures, intel, IDS alerts), the stateful ones see one event;
- the intel feeds, looked up for both addresses (listed addresses are named even when the intel
  detector would not report that direction);
- the connection itself: crafted TCP flags, a source equal to its destination (LAND), dangerous or
  watched ports;
- the active machine-learning models of the registry (``netwarden.learn``), when there are any.

>>> verdict = check_event(event_from_line('203.0.113.9 - - [21/Nov/2026:10:00:00 +0000] "GET /?id=1%27%20OR%201=1-- HTTP/1.1" 200 5 "-" "x"'), settings)  # doctest: +SKIP
>>> verdict.verdict, [r.detail for r in verdict.reasons]                                        # doctest: +SKIP
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from netwarden.detect._conn import crafted
from netwarden.detect.engine import DetectionEngine, load_detectors
from netwarden.detect.unusual_service import DANGEROUS, WATCHED_OUTBOUND
from netwarden.enrich.assets import Assets
from netwarden.parse import ParseContext, ParseError, UnknownFormat, get_parser, guess_format
from netwarden.parse._messages import TCP_FLAG_ORDER
from netwarden.records import Event, Severity

log = logging.getLogger(__name__)
MAX_LINE = 65536
TRANSPORTS = ("tcp", "udp", "icmp", "icmpv6")
FLAG_LETTERS = {"S": "SYN", "A": "ACK", "F": "FIN", "R": "RST", "P": "PSH", "U": "URG", "E": "ECE", "C": "CWR"}
NOT_SINGLE_EVENT = {"ml"}  # the ml detector reads the registry itself; models are scored below


class CheckError(ValueError):
    """The input cannot be checked; the message says what is wrong (a 400 for the web)."""


@dataclass
class Reason:
    source: str  # "detector:web_attack", "intel", "connection", "model:<name>"
    severity: str
    detail: str
    confidence: float = 1.0
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    verdict: str  # "malicious", "suspicious" or "no known threat"
    severity: str | None
    score: float
    reasons: list[Reason]
    event: dict[str, Any]
    format: str | None = None
    notes: list[str] = field(default_factory=list)  # what could not be checked (no model, a model failed)
    models: list[dict[str, Any]] = field(default_factory=list)  # each active model: ref, score, threshold

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reasons"] = [asdict(r) for r in self.reasons]
        return out


# -- input ------------------------------------------------------------------------------------------

def _address(value: str | None, what: str, required: bool = True) -> str | None:
    if value is None or not str(value).strip():
        if required:
            raise CheckError(f"{what} is required")
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise CheckError(f"{what}: {str(value)[:64]!r} is not an IP address") from None


def _flags(text: str | None) -> str | None:
    """"SYN,ACK", "syn ack", "SA" → "SYN,ACK"; "" → None. CheckError for anything else."""
    if text is None or not text.strip():
        return None
    words = text.replace(",", " ").replace("|", " ").replace("+", " ").upper().split()
    if len(words) == 1 and words[0] not in TCP_FLAG_ORDER and words[0] != "NULL" \
            and all(c in FLAG_LETTERS for c in words[0]):
        words = [FLAG_LETTERS[c] for c in words[0]]
    if words == ["NULL"] or words == ["NONE"]:
        return ""
    unknown = [w for w in words if w not in TCP_FLAG_ORDER]
    if unknown:
        raise CheckError(f"tcp_flags: unknown flag(s) {', '.join(w[:16] for w in unknown[:5])}; "
                         f"use {', '.join(TCP_FLAG_ORDER)} or NULL")
    return ",".join(f for f in TCP_FLAG_ORDER if f in words)


def _count(value: int | None, what: str, maximum: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise CheckError(f"{what} must be a whole number between 0 and {maximum:,}")
    return value


def event_from_connection(*, src_ip: str, dst_ip: str, transport: str = "tcp", dst_port: int | None = None,
                          src_port: int | None = None, packet_size: int | None = None,
                          bytes_out: int | None = None, bytes_in: int | None = None,
                          tcp_flags: str | None = None, timestamp: datetime | None = None) -> Event:
    """A flow event for one described connection. Raises CheckError for impossible values."""
    transport = (transport or "").strip().lower()
    if transport not in TRANSPORTS:
        raise CheckError(f"protocol must be one of {', '.join(TRANSPORTS)}")
    flags = _flags(tcp_flags)
    ignored = None
    if flags is not None and transport != "tcp":
        # single-record datasets give every row a flag column, ICMP rows too: accept it and say it is unused
        ignored, flags = (flags or "NULL"), None
    packet_size = _count(packet_size, "packet_size", 65535)
    out = _count(bytes_out, "bytes_out", 1 << 50)
    if out is None and packet_size is not None:
        out = packet_size
    event = Event(timestamp=timestamp or datetime.now(timezone.utc), source_kind="flow_csv",
                  src_ip=_address(src_ip, "source address"), dst_ip=_address(dst_ip, "destination address"),
                  src_port=_count(src_port, "source port", 65535), dst_port=_count(dst_port, "destination port", 65535),
                  transport=transport, bytes_out=out, bytes_in=_count(bytes_in, "bytes_in", 1 << 50),
                  packets_out=1 if packet_size is not None and bytes_out is None else None,
                  tcp_flags=flags if flags else None)
    if packet_size is not None:
        event.extra["packet_size"] = packet_size
    if flags == "":
        event.extra["null_flags"] = True
    if ignored is not None:
        event.extra["ignored_tcp_flags"] = ignored
    return event


def event_from_line(line: str, fmt: str = "auto") -> tuple[Event, str]:
    """The event of one pasted log line and the name of the format that read it."""
    if line is None or not line.strip():
        raise CheckError("the log line is empty")
    line = line.strip("\r\n")
    if "\n" in line.strip():
        raise CheckError("paste one log line (a header line of CSV formats is not needed)")
    if len(line) > MAX_LINE:
        raise CheckError(f"the line is longer than {MAX_LINE:,} characters")
    try:
        parser_cls = guess_format([line]) if fmt in ("", "auto") else get_parser(fmt)
    except UnknownFormat as exc:
        raise CheckError(f"{exc}".replace("name it with --format", "choose the format")) from None
    try:
        event = parser_cls(ParseContext(source="check")).parse_line(line)
    except ParseError as exc:
        raise CheckError(f"the {parser_cls.name} parser cannot read this line: {exc}") from None
    if event is None:
        raise CheckError(f"the {parser_cls.name} parser found no event in this line (a header or comment?)")
    if event.timestamp is None:
        event.timestamp = datetime.now(timezone.utc)
    return event, parser_cls.name


# -- checking ---------------------------------------------------------------------------------------

ModelScorer = Callable[[Event], tuple[list[Reason], list[str]]]


def check_event(event: Event, settings: Any, *, model_scorer: ModelScorer | None = None,
                fmt: str | None = None) -> Verdict:
    """The verdict on one event. Writes nothing anywhere."""
    assets = Assets(settings.network.home)
    reasons = _detector_reasons(event, settings, assets)
    if not any(r.data.get("kind") == "intel" for r in reasons):  # listed, but a direction the detector skips
        reasons += _intel_reasons(event, settings)
    reasons += _connection_reasons(event, assets)
    notes: list[str] = []
    if event.extra.get("ignored_tcp_flags"):
        notes.append(f"TCP flags {event.extra['ignored_tcp_flags']} ignored: {event.transport} has no TCP header "
                     "(datasets often fill the flag column for every protocol)")
    model_scores: list[float] = []
    models: list[dict[str, Any]] = []  # each active model's own score, unrounded (as `model predict` gives it)
    if model_scorer is not None:
        model_reasons, model_notes, *scored = model_scorer(event)
        reasons += model_reasons
        notes += model_notes
        model_scores = list(scored[0]) if scored else []
        models = list(scored[1]) if len(scored) > 1 else []
    else:
        notes.append("no machine-learning model is active")
    reasons.sort(key=lambda r: (-Severity(r.severity).rank, -r.confidence))
    worst = reasons[0].severity if reasons else None
    verdict = "no known threat" if worst is None else \
        "malicious" if Severity(worst).rank >= Severity.HIGH.rank else "suspicious"
    # one meaning for every verdict: how strongly the strongest witness (a detector's confidence, a feed, a
    # model's score, below its threshold too) says "attack", 0 to 1; the verdict adds the severity to it
    score = max([r.confidence for r in reasons] + model_scores, default=0.0)
    return Verdict(verdict=verdict, severity=worst, score=round(score, 4),
                   reasons=reasons, event=event.to_dict(), format=fmt, notes=notes, models=models)


def _detector_reasons(event: Event, settings: Any, assets: Assets) -> list[Reason]:
    config = {name: dict(values) for name, values in settings.detect.items()}
    intel = config.setdefault("intel", {})
    for key in ("feeds", "min_score", "flag_private", "reload_every"):
        intel.setdefault(key, getattr(settings.intel, key))
    names = [n for n in load_detectors() if n not in NOT_SINGLE_EVENT]
    config = {k: v for k, v in config.items() if k in names}
    engine = DetectionEngine.from_config(config, None, only=names, assets=assets)  # no db: nothing stored
    engine.process([event])
    return [Reason(source=f"detector:{a.detector}", severity=str(a.severity),
                   detail=f"{a.kind}{'/' + a.subkind if a.subkind else ''}: "
                          + "; ".join(f.detail for f in a.factors[:4]),
                   confidence=round(a.confidence, 4),
                   data={"kind": a.kind, "subkind": a.subkind, "recommendation": a.recommendation})
            for a in engine.alerts]


def _intel_reasons(event: Event, settings: Any) -> list[Reason]:
    from netwarden.enrich.intel import shared_index

    try:
        index = shared_index(settings.intel.feeds, min_score=settings.intel.min_score,
                             flag_private=settings.intel.flag_private, reload_every=settings.intel.reload_every)
    except Exception as exc:  # a missing feed file is a configuration problem, not the analyst's
        log.warning("intel feeds unavailable for a check: %s", exc)
        return []
    out = []
    for side, address in (("source", event.src_ip), ("destination", event.dst_ip)):
        if not address:
            continue
        match = index.lookup(address)
        if match is None:
            continue
        feeds = ", ".join(sorted({listing.feed for listing in match.listings}))
        out.append(Reason(source="intel", severity="medium",
                          detail=f"the {side} {address} is listed by {feeds}",
                          data={"address": address, "listings": [asdict(x) for x in match.listings[:5]]}))
    return out


def _connection_reasons(event: Event, assets: Assets) -> list[Reason]:
    out = []
    if event.src_ip and event.src_ip == event.dst_ip and event.source_kind == "flow_csv":
        out.append(Reason("connection", "high", "source and destination are the same address (LAND attack)"))
    if event.transport == "tcp" and (event.tcp_flags is not None or event.extra.get("null_flags")):
        pattern = crafted(event.tcp_flags or "")
        if pattern:
            out.append(Reason("connection", "medium",
                              f"crafted TCP flags ({pattern}): no operating system sends them, scanners do "
                              "(nmap -sN/-sF/-sX, OS fingerprinting)"))
    port = event.dst_port
    if port is not None and event.transport in ("tcp", "udp"):
        src_in = bool(event.src_ip) and assets.is_inside(event.src_ip)
        dst_in = bool(event.dst_ip) and assets.is_inside(event.dst_ip)
        if port in DANGEROUS and not src_in:
            name, critical = DANGEROUS[port]
            out.append(Reason("connection", "medium" if critical else "low",
                              f"port {port} ({name}) reached from outside: a frequent target that should "
                              "not be exposed to the internet"))
        elif port in WATCHED_OUTBOUND and src_in and not dst_in:
            out.append(Reason("connection", "low",
                              f"an inside host connecting out to port {port}: mail, chat or remote-access "
                              "traffic that workstations rarely need (malware uses it)"))
    size = event.extra.get("packet_size")
    if isinstance(size, int) and event.transport == "icmp" and size > 1500:
        out.append(Reason("connection", "medium", f"an ICMP packet of {size} bytes (ping of death / tunnel)"))
    return out


def registry_scorer(db: Any, settings: Any, asked: dict[str, Any] | None = None) -> ModelScorer | None:
    """Scores with every active model of the registry; None when there is no registry or no active model.
    ``asked``: the connection as entered, for models trained on a plain CSV (netwarden.check_columns)."""
    try:
        from netwarden.learn.registry import ModelRegistry
        from netwarden.learn.settings import models_dir
    except ImportError:
        return None
    try:
        registry = ModelRegistry(db, models_dir(settings.learn, str(db.engine.url)))
        active = registry.active()
    except Exception as exc:  # no models table yet, a broken directory: the check still works
        log.warning("model registry unavailable for a check: %s", exc)
        return None
    if not active:
        return None

    def score(event: Event) -> tuple[list[Reason], list[str], list[float], list[dict[str, Any]]]:
        reasons: list[Reason] = []
        notes: list[str] = []
        values: list[float] = []
        scored: list[dict[str, Any]] = []
        for record in active:
            try:
                from netwarden.check_columns import for_model

                model = registry.load(record)
                seen = for_model(event, model, asked)
                value = float(model.score([seen])[0])
                values.append(value)
                threshold = float(getattr(model, "threshold", record.threshold))
                scored.append({"model": record.ref, "algorithm": record.algorithm, "score": value,
                               "threshold": threshold})
                if value >= threshold:
                    top = [c.to_dict() for c in model.explain([seen], top=3)[0]]
                    reasons.append(Reason(f"model:{record.ref}", "high" if value >= 0.9 else "medium",
                                          f"model {record.ref} ({record.algorithm}) scores {value:.2f} "
                                          f"(threshold {threshold:.2f})", round(value, 4), {"features": top}))
                else:
                    notes.append(f"model {record.ref} scores {value:.2f}, below its threshold {threshold:.2f}")
            except Exception as exc:  # one broken model must not take the check down
                notes.append(f"model {record.ref} could not score this event: {str(exc)[:200]}")
        return reasons, notes, values, scored

    return score
