"""An alert's evidence made readable: the matched text, the port, sample events as table rows with the
matched text marked, the other facts as name/value pairs. Everything here is log-derived: templates show it
with autoescaping (the marking is a list of (text, is_match) pieces, never HTML)."""

from __future__ import annotations

import json
from typing import Any

from netwarden.records import Alert

SAMPLE_COLUMNS = ("timestamp", "src_ip", "src_port", "dst_ip", "dst_port", "transport", "http_method", "url",
                  "http_status", "user_agent", "user", "message")
MARKED_COLUMNS = ("url", "user_agent", "message", "user")
EXCERPT = 120
MAX_MATCHED = 10
SHOWN_SEPARATELY = ("samples", "matched", "model_version")


def matched_texts(evidence: dict[str, Any]) -> list[str]:
    found = evidence.get("matched")
    items = found if isinstance(found, list) else [found]
    return [str(m) for m in items if m not in (None, "")][:MAX_MATCHED]


def samples(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in evidence.get("samples") or [] if isinstance(s, dict)]


def alert_port(alert: Alert) -> int | None:
    """The port the alert is about: the detector's own ``port``, else the one port its samples share."""
    ev = alert.evidence or {}
    for key in ("port", "dst_port"):
        if isinstance(ev.get(key), int) and not isinstance(ev.get(key), bool):
            return ev[key]
    ports = {s.get("dst_port") for s in samples(ev) if isinstance(s.get("dst_port"), int)}
    if len(ports) == 1:
        return ports.pop()
    listed = ev.get("ports")
    if isinstance(listed, list) and len(listed) == 1:
        only = listed[0][0] if isinstance(listed[0], list) and listed[0] else listed[0]
        return only if isinstance(only, int) else None
    return None


def excerpt(alert: Alert) -> str:
    """A short piece of what matched (a web attack's payload, ...), else nothing."""
    texts = matched_texts(alert.evidence or {})
    if not texts:
        return ""
    text = " ".join(texts[0].split())
    return text if len(text) <= EXCERPT else text[:EXCERPT - 1] + "…"


def marked(text: str, needles: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into pieces, the ones equal (ignoring case) to any needle flagged True."""
    lowered = text.lower()
    wanted = [n.lower() for n in needles if n and len(n) <= len(text)]
    pieces: list[tuple[str, bool]] = []
    start = 0
    while wanted:
        hits = [(lowered.find(n, start), n) for n in wanted]
        hits = [(i, n) for i, n in hits if i >= 0]
        if not hits:
            break
        i, n = min(hits, key=lambda h: (h[0], -len(h[1])))
        if i > start:
            pieces.append((text[start:i], False))
        pieces.append((text[i:i + len(n)], True))
        start = i + len(n)
    if start < len(text) or not pieces:
        pieces.append((text[start:], False))
    return pieces


def _shown(value: Any) -> str:
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return str(value)


def evidence_view(alert: Alert) -> dict[str, Any]:
    ev = alert.evidence or {}
    matched = matched_texts(ev)
    rows = samples(ev)
    columns = [c for c in SAMPLE_COLUMNS if any(r.get(c) not in (None, "") for r in rows)]
    table = []
    for r in rows:
        cells = []
        for c in columns:
            value = r.get(c)
            text = "" if value is None else str(value)
            cells.append(marked(text, matched) if c in MARKED_COLUMNS else [(text, False)])
        table.append(cells)
    facts = [(k, _shown(v)) for k, v in sorted(ev.items()) if k not in SHOWN_SEPARATELY and v not in (None, "", [], {})]
    return {"matched": matched, "columns": columns, "samples": table, "facts": facts, "port": alert_port(alert)}
