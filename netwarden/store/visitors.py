"""Who visits the web servers, with what and from where: web log events (those with a user agent) grouped
by visitor address and by parsed user agent. Reads at most ``scan_limit`` of the newest events."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import Connection, func, select

from netwarden.store.events import EventFilter
from netwarden.store.schema import events
from netwarden.useragent import parse_agent

SCAN_LIMIT = 100_000


def visitors(conn: Connection, since: datetime, until: datetime, *, limit: int = 20,
             country_of: Callable[[str], str] | None = None, scan_limit: int = SCAN_LIMIT) -> dict[str, Any]:
    where = [*EventFilter(since=since, until=until).clauses(), events.c.user_agent.is_not(None)]
    recent = select(events.c.src_ip, events.c.user_agent).where(*where) \
        .order_by(events.c.timestamp.desc()).limit(scan_limit).subquery()
    pairs = conn.execute(select(recent.c.src_ip, recent.c.user_agent, func.count())
                         .group_by(recent.c.src_ip, recent.c.user_agent)).all()
    total = sum(int(n) for _, _, n in pairs)
    browsers: Counter = Counter()
    systems: Counter = Counter()
    devices: Counter = Counter()
    countries: Counter = Counter()
    bots = 0
    per_visitor: dict[str, dict[str, Any]] = {}
    for address, agent_text, n in pairs:
        n = int(n)
        agent = parse_agent(agent_text)
        browsers[agent.browser] += n
        systems[agent.os] += n
        devices[agent.device] += n
        bots += n if agent.bot else 0
        v = per_visitor.setdefault(address or "", {"address": address, "requests": 0, "agents": Counter(),
                                                   "bot": False})
        v["requests"] += n
        v["agents"][f"{agent.browser} · {agent.os} · {agent.device}"] += n
        v["bot"] = v["bot"] or agent.bot
    top = sorted(per_visitor.values(), key=lambda v: (-v["requests"], v["address"] or ""))
    if country_of is not None:
        for v in per_visitor.values():
            if v["address"]:
                countries[country_of(v["address"])] += v["requests"]
    rows = []
    for v in top[:limit]:
        rows.append({"address": v["address"], "requests": v["requests"], "bot": v["bot"],
                     "agent": v["agents"].most_common(1)[0][0], "agents": len(v["agents"]),
                     "country": country_of(v["address"]) if country_of and v["address"] else ""})
    return {"requests": total, "visitors": len(per_visitor), "bots": bots, "sampled": total >= scan_limit,
            "top": rows, "browsers": browsers.most_common(limit), "systems": systems.most_common(limit),
            "devices": devices.most_common(limit), "countries": countries.most_common(limit)}
