"""One digest of notices in each shape a channel wants: text, HTML mail, JSON, Slack, Teams.

Everything in a notice may come from a log and is attacker-controlled: HTML is escaped, and so is the
markup Slack (``&<>``) and Teams (HTML) would otherwise interpret.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

from netwarden.notify.notice import Notice


def subject(notices: list[Notice], omitted: int) -> str:
    total = len(notices) + omitted
    if total == 1:
        return f"NetWarden: {_oneline(notices[0].title)}"
    kinds = Counter(n.kind for n in notices)
    parts = ", ".join(f"{count} {kind}{'s' if count > 1 else ''}" for kind, count in sorted(kinds.items()))
    more = f", {omitted} more" if omitted else ""
    return f"NetWarden: {total} notices ({parts}{more})"


def text(notices: list[Notice], omitted: int) -> str:
    lines = []
    for n in notices:
        lines.append(f"* {_oneline(n.title)}")
        lines.extend(f"    {k}: {_oneline(v)}" for k, v in n.fields.items())
    if omitted:
        lines.append(f"... and {omitted} more (see `netwarden alerts` and `netwarden block list`)")
    return "\n".join(lines) + "\n"


def html_body(notices: list[Notice], omitted: int) -> str:
    e = html.escape
    parts = [f"<html><body><h2>{e(subject(notices, omitted))}</h2>"]
    for n in notices:
        rows = "".join(f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in n.fields.items())
        parts.append(f"<h3>{e(n.title)}</h3><table>{rows}</table>")
    if omitted:
        parts.append(f"<p>... and {omitted} more.</p>")
    parts.append("</body></html>")
    return "".join(parts)


def json_body(notices: list[Notice], omitted: int) -> dict[str, Any]:
    return {"source": "netwarden", "subject": subject(notices, omitted), "count": len(notices) + omitted,
            "omitted": omitted, "notices": [n.to_dict() for n in notices]}


def _slack_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(notices: list[Notice], omitted: int) -> dict[str, Any]:
    return {"text": _slack_escape(subject(notices, omitted) + "\n" + text(notices, omitted))}


def teams_body(notices: list[Notice], omitted: int) -> dict[str, Any]:
    e = html.escape
    sections = [{"activityTitle": e(n.title),
                 "facts": [{"name": e(k), "value": e(v)} for k, v in n.fields.items()]} for n in notices]
    if omitted:
        sections.append({"text": f"... and {omitted} more"})
    return {"@type": "MessageCard", "@context": "https://schema.org/extensions",
            "themeColor": "C0392B" if any(n.severity.rank >= 3 for n in notices) else "E67E22",
            "summary": e(subject(notices, omitted)), "title": e(subject(notices, omitted)), "sections": sections}


def _oneline(value: str) -> str:
    # a log line carrying "\r\nBcc: ..." must not become a header or fake line
    return " ".join(str(value).split())
