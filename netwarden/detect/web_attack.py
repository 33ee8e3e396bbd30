"""Web attacks in HTTP requests: injections, traversal, XSS, Log4Shell, sensitive-file probes and attack tools.

Every HTTP request NetWarden sees — access-log lines, Suricata ``http`` events, the per-request events of
packet captures — passes through here. Each request target is split into its path and parameters, each
piece is decoded the way a server would (repeatedly, so double encoding does not hide anything; ``+``,
``%uXXXX``, HTML entities, overlong UTF-8, SQL comments inside keywords, null bytes) and matched against
specific signatures (``_web_signatures``, applied by ``_web_inspect`` after ``_web_decoding``). User agents are checked for attack tools and, with the
referrer and Host, for Log4Shell and Shellshock payloads.

Subkinds: ``sqli``, ``traversal`` (also local file inclusion), ``xss``, ``cmdi``, ``rfi`` (remote file
inclusion and SSRF), ``jndi`` (Log4Shell), ``sensitive_file`` (``.env``, ``.git/``, backups, dumps,
phpMyAdmin ...) and ``scanner_tool`` (sqlmap, Nikto, Nmap NSE, gobuster, Hydra ...).

Per source the detector remembers (bounded, idle for an hour → forgotten) how many attack requests of
each kind it sent, which rules they matched, which status codes came back and which tool it announced,
so confidence grows with evidence: a single ``' OR '1'='1`` is an alert of its own; forty different
payloads from sqlmap that the server answered with 200 are a near-certain one.

Severity: an injection (SQL, traversal, command, JNDI, RFI) is **high** when the server answered 2xx —
or when the status is unknown (a capture without the response) — because it may have worked, and
**medium** when the server refused it (3xx/4xx/5xx). XSS targets the site's users rather than the server:
medium, low when refused. A single probe for a sensitive file is **low** (the internet is full of
``/.env`` crawlers); several distinct ones are a scan (**medium**); one that was *served* (2xx with a
body) is **high**: the file is exposed. Tools: medium; internet-wide sweepers (masscan, zgrab) low.

The suppression signature is ``<subkind>:<rule id>``, so an administrator can silence one rule for one
source (a vulnerability scanner of their own, an application that really passes SQL in a parameter).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from netwarden.detect import scoring
from netwarden.detect._web_inspect import decoded_url, inspect_header, inspect_lookups, inspect_url, split_url
from netwarden.detect._web_signatures import ADMIN_PANEL, INFO_ENDPOINT, TOOL_AGENT_RULE, Match, tool_agent
from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.detect.windows import KeyedState
from netwarden.records import Event, Factor, Finding, Severity

log = logging.getLogger(__name__)
INJECTION = frozenset({"sqli", "traversal", "cmdi", "jndi", "rfi"})
ATTACKS = INJECTION | {"xss"}
NAMES = {"sqli": "SQL injection", "traversal": "directory traversal / local file inclusion", "xss": "cross-site scripting",
         "cmdi": "OS command injection", "rfi": "remote file inclusion / SSRF", "jndi": "Log4Shell (JNDI) injection",
         "sensitive_file": "sensitive file probe", "scanner_tool": "attack tool"}
CACHE_SIZE = 8192  # distinct URLs / user agents remembered with their verdict (most traffic repeats)
CACHE_URL_LENGTH = 1024  # longer URLs are inspected every time rather than pinning memory
MAX_PATHS = 50  # distinct sensitive paths remembered per source
MAX_STATUSES = 16


class _Source:
    """What one source has done lately (JSON-ready through to_dict/from_dict)."""

    __slots__ = ("first", "hits", "paths", "rules", "statuses", "tool", "tool_kind", "tool_requests")

    def __init__(self, first: datetime) -> None:
        self.first = first
        self.hits: dict[str, int] = {}  # subkind -> requests
        self.rules: dict[str, int] = {}  # rule id -> requests
        self.paths: list[str] = []  # distinct sensitive paths asked for
        self.statuses: dict[str, dict[str, int]] = {}  # subkind -> status code ("?" unknown) -> requests
        self.tool: str | None = None
        self.tool_kind: str | None = None
        self.tool_requests = 0

    def to_dict(self) -> dict[str, Any]:
        return {"first": self.first.isoformat(), "hits": self.hits, "rules": self.rules, "paths": self.paths,
                "statuses": self.statuses, "tool": self.tool, "tool_kind": self.tool_kind,
                "tool_requests": self.tool_requests}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Source:
        s = cls(datetime.fromisoformat(d["first"]))
        s.hits = {str(k): int(v) for k, v in dict(d.get("hits") or {}).items()}
        s.rules = {str(k): int(v) for k, v in dict(d.get("rules") or {}).items()}
        s.paths = [str(p) for p in list(d.get("paths") or [])][:MAX_PATHS]
        s.statuses = {str(k): {str(c): int(n) for c, n in dict(v).items()}
                      for k, v in dict(d.get("statuses") or {}).items()}
        s.tool, s.tool_kind = d.get("tool"), d.get("tool_kind")
        s.tool_requests = int(d.get("tool_requests") or 0)
        return s


@dataclass
class _Group:
    """The requests of one batch from one source that matched one rule."""

    match: Match
    events: list[Event] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    served: list[tuple[str, int, int | None]] = field(default_factory=list)  # (path, status, bytes)
    first: datetime | None = None
    last: datetime | None = None
    count: int = 0
    keep: int = 50  # events kept for samples; all of them when the engine evaluates (keep_events)

    def add(self, e: Event, m: Match, when: datetime) -> None:
        self.count += 1
        if len(self.events) < self.keep:
            self.events.append(e)
        if m.text not in self.texts and len(self.texts) < 5:
            self.texts.append(m.text)
        code = "?" if e.http_status is None else str(e.http_status)
        self.statuses[code] = self.statuses.get(code, 0) + 1
        if e.http_status is not None and 200 <= e.http_status < 300 and len(self.served) < 5:
            self.served.append((m.text, e.http_status, e.bytes_in))
        self.first = when if self.first is None or when < self.first else self.first
        self.last = when if self.last is None or when > self.last else self.last


@register
class WebAttack(Detector):
    name = "web_attack"
    description = "SQL injection, traversal, XSS, command injection, RFI/SSRF, Log4Shell, sensitive files, attack tools"

    class Settings(DetectorSettings):
        # Distinct sensitive paths from one source that make "a probe" a scan (medium instead of low): one
        # /.env is what every internet crawler asks; three different secrets/backups/panels is a search.
        scan_paths: int = 3
        # How long a source's history is kept after its last attack request; the engine merges repeats
        # into one alert over the same hour, so counts and alerts describe the same episode.
        idle_minutes: int = 60
        max_sources: int = 50_000  # bounded memory under a flood of spoofed sources
        # Internet-wide sweepers (masscan, zgrab) hit every public server daily; set False to not report them
        report_internet_scanners: bool = True
        # Your own authorised scanners (addresses or networks): never reported
        ignore_sources: tuple[str, ...] = ()

    def __init__(self, settings: Any = None, **kw: Any) -> None:
        super().__init__(settings, **kw)
        s = self.settings
        self.sources: KeyedState[_Source] = KeyedState(lambda: _Source(datetime.min.replace(tzinfo=timezone.utc)),
                                                       idle=timedelta(minutes=s.idle_minutes),
                                                       max_keys=s.max_sources)
        self._url_cache: dict[str, tuple[Match, ...]] = {}
        self._ua_cache: dict[str, tuple[tuple[str, str] | None, tuple[Match, ...]]] = {}
        self._latest: datetime | None = None
        nets = [ipaddress.ip_network(n, strict=False) for n in s.ignore_sources]
        self._ignored = lru_cache(maxsize=4096)(lambda a: _in_networks(a, nets)) if nets else None
        self._models: Any = None  # the registry's active models (an MlDetector as loader), once bound

    def bind(self, db: Any, settings: Any) -> None:
        """Called by the pipeline: an active model of the site's normal requests (http_profile) adds its
        anomaly score to every signature alert."""
        from netwarden.detect.ml import MlDetector

        self._models = MlDetector()
        self._models.bind(db, settings)

    def use(self, registry: Any) -> None:
        """Read request models from this registry (tests, `netwarden evaluate`)."""
        from netwarden.detect.ml import MlDetector

        self._models = MlDetector()
        self._models.use(registry)

    def _anomaly(self, events: list[Event]) -> tuple[list[Factor], dict[str, Any]]:
        """A factor from each active request model: how unusual these requests are for this site. Unusual
        adds weight to the signature; ordinary is said (weight 0), so a person sees both views."""
        if self._models is None or not events:
            return [], {}
        factors, evidence = [], {}
        for record, model in self._models.active_models():
            if model.algorithm != "http_profile":
                continue
            try:
                scores = model.score(events)
            except Exception:  # a broken model must not cost the signature alert
                log.exception("web_attack: model %s failed to score", record.ref)
                continue
            i = int(scores.argmax())
            score = float(scores[i])
            why = model.explain([events[i]], 1)[0]
            reason = f": {why[0].value}" if why else ""
            unusual = score >= model.threshold
            factors.append(Factor("anomaly", 0.4 * score if unusual else 0.0,
                                  f"model {record.ref}: {'unusual' if unusual else 'ordinary'} for this site "
                                  f"(anomaly score {score:.3f}, threshold {model.threshold:.3f}){reason}"))
            evidence[record.ref] = round(score, 6)
        return factors, evidence

    # -- the hot path -------------------------------------------------------------------------------

    def _url_matches(self, url: str) -> tuple[Match, ...]:
        cache = self._url_cache
        found = cache.get(url)
        if found is None:
            try:
                found = tuple(inspect_url(url))
            except Exception:  # noqa: BLE001 -- hostile input must never stop detection (none known raises)
                found = ()
            if len(url) <= CACHE_URL_LENGTH:
                if len(cache) >= CACHE_SIZE:
                    cache.clear()
                cache[url] = found
        return found

    def _agent(self, ua: str) -> tuple[tuple[str, str] | None, tuple[Match, ...]]:
        cache = self._ua_cache
        found = cache.get(ua)
        if found is None:
            try:
                found = (tool_agent(ua), tuple(inspect_header(ua, "user agent")))
            except Exception:  # noqa: BLE001 -- as above
                found = (None, ())
            if len(ua) <= CACHE_URL_LENGTH:
                if len(cache) >= CACHE_SIZE:
                    cache.clear()
                cache[ua] = found
        return found

    def process(self, events: Sequence[Event]) -> list[Finding]:
        groups: dict[tuple[str, str, str], _Group] = {}
        tools: dict[str, tuple[str, str, str, _Group]] = {}  # src -> (tool, kind, agent, group)
        latest = self._latest
        keep = 1 << 62 if self.keep_events else 50
        for e in events:
            url = e.url
            ua = e.user_agent
            if url is None and ua is None:
                continue
            matches: tuple[Match, ...] = self._url_matches(url) if url else ()
            tool = None
            if ua:
                tool, ua_matches = self._agent(ua)
                if ua_matches:
                    matches += ua_matches
            extra = e.extra
            if extra:
                for key, where in (("referrer", "referrer"), ("host", "host"), ("http_host", "host")):
                    value = extra.get(key)
                    if isinstance(value, str) and ("${" in value or "() {" in value or "%24" in value
                                                   or "%7B" in value or "%7b" in value):
                        try:
                            found = inspect_lookups(value, where)
                        except Exception:  # noqa: BLE001 -- as above
                            found = []
                        if found:
                            matches += tuple(found)
            if not matches and tool is None:
                continue
            when = e.timestamp or latest
            if when is None:
                when = datetime.now(timezone.utc)  # only for a batch without a single timestamp
            elif when.tzinfo is None:  # parsers give aware times; a naive one (hand-made event) is UTC
                when = when.replace(tzinfo=timezone.utc)
            src = e.src_ip or (extra.get("client_host") if extra else None) or "unknown"
            if self._ignored is not None and self._ignored(src):
                continue
            for m in matches:
                if m.rule is INFO_ENDPOINT and self.assets.is_inside(src):
                    continue  # the server's own monitoring polls /server-status
                key = (src, m.subkind, m.rule.id)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _Group(m, keep=keep)
                group.add(e, m, when)
            if tool is not None:
                entry = tools.get(src)
                if entry is None:
                    entry = tools[src] = (tool[0], tool[1], ua or "", _Group(Match(TOOL_AGENT_RULE, tool[0], "user agent"), keep=keep))
                entry[3].add(e, entry[3].match, when)
        for e in events:  # event time moves on even in batches without attacks
            ts = e.timestamp
            if ts is not None:
                if ts.tzinfo is None:
                    ts = ts.replace(tzinfo=timezone.utc)
                if latest is None or ts > latest:
                    latest = ts
        self._latest = latest
        if not groups and not tools:
            return []
        return self._findings(groups, tools)

    # -- findings -----------------------------------------------------------------------------------

    def _findings(self, groups: dict[tuple[str, str, str], _Group],
                  tools: dict[str, tuple[str, str, str, _Group]]) -> list[Finding]:
        # first fold the whole batch into the sources' state, so every finding sees the full picture
        for (src, subkind, rule_id), g in groups.items():
            st = self._state(src, g)
            st.hits[subkind] = st.hits.get(subkind, 0) + g.count
            st.rules[rule_id] = st.rules.get(rule_id, 0) + g.count
            codes = st.statuses.setdefault(subkind, {})
            for code, n in g.statuses.items():
                if code in codes or len(codes) < MAX_STATUSES:
                    codes[code] = codes.get(code, 0) + n
            if subkind == "sensitive_file":
                for e in g.events:
                    path = _path_of(e.url)
                    if path not in st.paths and len(st.paths) < MAX_PATHS:
                        st.paths.append(path)
        for src, (tool, kind, _agent, g) in tools.items():
            st = self._state(src, g)
            st.tool, st.tool_kind = tool, kind
            st.tool_requests += g.count
        out: list[Finding] = []
        for (src, subkind, _rule_id), g in groups.items():
            st = self.sources.peek(src)
            if st is None:
                continue
            if subkind == "scanner_tool":
                out.append(self._tool_finding(src, st, g.match.text, "recon", "", g))
            elif subkind == "sensitive_file":
                out.append(self._sensitive_finding(src, st, g))
            else:
                out.append(self._attack_finding(src, st, subkind, g))
        for src, (tool, kind, agent, g) in tools.items():
            st = self.sources.peek(src)
            if st is None or (kind == "internet" and not self.settings.report_internet_scanners):
                continue
            out.append(self._tool_finding(src, st, tool, kind, agent, g))
        return out

    def _state(self, src: str, g: _Group) -> _Source:
        assert g.last is not None and g.first is not None
        st = self.sources.get(src, g.last)
        if st.first.year == 1 or g.first < st.first:
            st.first = g.first
        return st

    def _common_factors(self, src: str, st: _Source) -> list[Factor]:
        factors = []
        if st.tool and st.tool_kind != "internet":
            factors.append(Factor("tool_user_agent", 0.5, f"user agent of {st.tool}"))
        attack_rules = [r for r in st.rules if not r.startswith(("sensitive-", "tool-"))]
        kinds = [k for k in st.hits if k in ATTACKS]
        if len(attack_rules) >= 3 or len(kinds) >= 2:
            factors.append(Factor("variety", min(0.5, 0.1 * len(attack_rules) + 0.1 * len(kinds)),
                                  f"{len(attack_rules)} different attack patterns from {src} "
                                  f"({', '.join(sorted(attack_rules)[:6])}{', ...' if len(attack_rules) > 6 else ''})"))
        return factors

    def _attack_finding(self, src: str, st: _Source, subkind: str, g: _Group) -> Finding:
        m = g.match
        e0 = g.events[0]
        path, param = _path_of(e0.url), _param(m.where)
        factors = [Factor("pattern", m.rule.strength, f'{m.where}: matched "{_short(m.text)}" — {m.rule.description}')]
        if m.evasion:
            factors.append(Factor("evasion", 0.3, f"hidden with {', '.join(m.evasion)}"))
        total = st.hits.get(subkind, 0)
        if total >= 2:
            factors.append(Factor("repeated", scoring.saturating(total - 1, 4, 0.6),
                                  f"{total} {NAMES[subkind]} requests from {src} since {st.first:%Y-%m-%d %H:%M:%S}"))
        factors += self._common_factors(src, st)
        ok = sum(n for c, n in g.statuses.items() if c.startswith("2"))
        unknown = g.statuses.get("?", 0)
        errors = sum(n for c, n in g.statuses.items() if c.startswith("5"))
        if ok:
            codes = "/".join(sorted(c for c in g.statuses if c.startswith("2")))
            factors.append(Factor("answered", 0.25, f"the server answered {codes} to {ok} of {g.count}: it may have worked"))
        if errors and subkind in INJECTION:
            factors.append(Factor("server_error", 0.15, f"server error to {errors} of {g.count}: "
                                                        "the input reached the application"))
        if subkind in INJECTION:
            severity = Severity.HIGH if ok or unknown else Severity.MEDIUM
        else:
            severity = Severity.MEDIUM if ok or unknown else Severity.LOW
        when = f"{g.first:%Y-%m-%d %H:%M:%S %Z}".strip()
        target = _target(e0)
        codes = _codes(st.statuses.get(subkind, {}))
        where = f"{path} ({m.where})" if param else path
        answered = f"the server answered {codes}" if codes else "the response status is unknown"
        recommendation = _RECOMMEND[subkind].format(src=src, where=where, path=path, param=param or "the input",
                                                    when=when, answered=answered, target=target or "the server",
                                                    desc=m.rule.description, text=_short(m.text, 80))
        evidence = {"matched": g.texts, "rules": [m.rule.id], "where": [m.where],
                    "urls": _urls(g.events), "status_codes": dict(st.statuses.get(subkind, {})),
                    "requests": st.hits.get(subkind, 0)}
        if m.evasion:
            evidence["evasion"] = list(m.evasion)
        if e0.user_agent:
            evidence["user_agents"] = [e0.user_agent[:200]]
        if target:
            evidence["targets"] = [target]
        return self._make(subkind, m.rule.id, severity, factors, recommendation, g, src, target, evidence)

    def _sensitive_finding(self, src: str, st: _Source, g: _Group) -> Finding:
        m = g.match
        e0 = g.events[0]
        path = _path_of(e0.url)
        distinct = len(st.paths)
        factors = [Factor("probe", m.rule.strength, f"requested {_short(path)} ({m.rule.description})")]
        if distinct >= 2:
            shown = ", ".join(st.paths[:5]) + (", ..." if distinct > 5 else "")
            factors.append(Factor("distinct_paths", scoring.saturating(distinct - 1, self.settings.scan_paths, 0.8),
                                  f"{distinct} sensitive paths probed from {src}: {shown}"))
        factors += self._common_factors(src, st)
        # served = 2xx with a body (bytes unknown counts as a body: a capture may not say)
        served = [(p, c, b) for p, c, b in g.served if b is None or b > 0]
        admin = m.rule in (ADMIN_PANEL, INFO_ENDPOINT)
        if served:
            p, c, b = served[0]
            size = f", {b} bytes" if b is not None else ""
            factors.append(Factor("served", 0.45 if admin else 0.6, f"the server answered {c} for {_short(p)}{size}"))
        if served and not admin:
            severity = Severity.HIGH
        elif served or distinct >= self.settings.scan_paths:
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        target = _target(e0)
        codes = _codes(g.statuses)
        if served and not admin:
            rec = (f"{_short(path)} was served to {src} ({codes}): remove it from the web root or deny it in the "
                   f"server configuration now, and rotate every secret it holds (database passwords, API keys, "
                   f"tokens); block {src} at the firewall.")
        elif served:
            rec = (f"{src} reached {_short(path)} ({codes}): restrict it to your administrators' addresses "
                   f"(or put it behind authentication/VPN) and check its login log; block {src} at the firewall.")
        elif distinct >= self.settings.scan_paths:
            rec = (f"{src} is searching for secrets, backups and admin panels ({distinct} paths, e.g. "
                   f"{', '.join(st.paths[:3])}). Check the access log that none was answered with 200, keep such "
                   f"files out of the web root, and block {src} at the firewall.")
        else:
            rec = (f"{src} asked for {_short(path)} and the server answered {codes or 'with an unknown status'}. "
                   f"One refused probe needs no action; make sure such files never sit under the web root.")
        evidence = {"matched": [_short(p) for p in st.paths[:10]], "rules": [m.rule.id], "paths": list(st.paths[:20]),
                    "urls": _urls(g.events), "status_codes": dict(st.statuses.get("sensitive_file", {})),
                    "requests": st.hits.get("sensitive_file", 0)}
        if e0.user_agent:
            evidence["user_agents"] = [e0.user_agent[:200]]
        if target:
            evidence["targets"] = [target]
        return self._make("sensitive_file", m.rule.id, severity, factors, rec, g, src, target, evidence)

    def _tool_finding(self, src: str, st: _Source, tool: str, kind: str, agent: str, g: _Group) -> Finding:
        weight = {"attack": 0.75, "recon": 0.65, "internet": 0.4}.get(kind, 0.6)
        what = f"user agent {_short(agent, 120)!r}" if agent else f"a request only {tool} makes"
        factors = [Factor("tool", weight, f"{what} ({tool})")]
        n = st.tool_requests if agent else st.rules.get(g.match.rule.id, g.count)
        if n >= 2:
            factors.append(Factor("requests", scoring.saturating(n, 50, 0.5), f"{n} requests from {src} by {tool}"))
        attacks = {k: v for k, v in st.hits.items() if k in ATTACKS or k == "sensitive_file"}
        if attacks:
            factors.append(Factor("attacks", 0.3, "with " + ", ".join(f"{NAMES[k]} ({v:,})" for k, v in attacks.items())))
        severity = Severity.LOW if kind == "internet" else Severity.MEDIUM
        target = _target(g.events[0])
        if kind == "internet":
            rec = (f"{src} runs {tool}, which sweeps the whole internet; no action is needed unless other alerts "
                   f"follow from it (you may block {src} at the firewall).")
        else:
            rec = (f"{src} is running {tool} against {target or 'your web server'} ({n} requests). Unless this is "
                   f"your own authorised test, block {src} at the firewall, and check the other web_attack alerts "
                   f"from {src} for requests the server answered with 2xx.")
        evidence = {"tool": tool, "requests": n, "urls": _urls(g.events), "status_codes": dict(g.statuses)}
        if agent:
            evidence["user_agents"] = [agent[:200]]
        if target:
            evidence["targets"] = [target]
        rule_id = g.match.rule.id if not agent else "tool-" + tool.split()[0].lower()
        return self._make("scanner_tool", rule_id, severity, factors, rec, g, src, target, evidence)

    def _make(self, subkind: str, rule_id: str, severity: Severity, factors: list[Factor], rec: str, g: _Group,
              src: str, target: str | None, evidence: dict[str, Any]) -> Finding:
        assert g.first is not None and g.last is not None
        anomaly, scores = self._anomaly(g.events)
        if anomaly:
            factors = [*factors, *anomaly]
            evidence["anomaly"] = scores
        return self.finding(kind="web_attack", subkind=subkind, severity=severity, factors=factors,
                            recommendation=rec, first_seen=g.first, last_seen=g.last, events=g.events,
                            source=src, target=target, count=g.count, signature=f"{subkind}:{rule_id}",
                            evidence=evidence)

    # -- state --------------------------------------------------------------------------------------

    def prune(self, now: datetime) -> None:
        self.sources.prune(now)

    def state(self) -> dict[str, Any]:
        return {"version": 1, "latest": self._latest.isoformat() if self._latest else None,
                "sources": [[key, seen.isoformat(), st.to_dict()] for key, seen, st in self.sources.items()]}

    def restore(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("version") != 1:
            return
        if state.get("latest"):
            self._latest = datetime.fromisoformat(state["latest"])
        for item in state.get("sources") or []:
            try:
                key, seen, data = item
                self.sources.put(str(key), datetime.fromisoformat(seen), _Source.from_dict(data))
            except (TypeError, ValueError, KeyError):
                continue  # one damaged entry does not lose the others
        while len(self.sources) > self.settings.max_sources:
            self.sources._items.popitem(last=False)


_RECOMMEND = {
    "sqli": ("{src} tried SQL injection ({desc}) on {where}: \"{text}\"; {answered}. Check the application's log "
             "and the database for queries built from {param} around {when} (SQL errors, unexpected rows read or "
             "changed), make sure that code uses parameterised queries, and block {src} at the firewall."),
    "traversal": ("{src} tried to read files outside the web root through {where}: \"{text}\"; {answered}. Check "
                  "the response sizes in the access log around {when} for a file that was returned, make sure "
                  "{param} cannot name a path (allow-list the values), and block {src} at the firewall."),
    "xss": ("{src} sent a cross-site scripting payload to {where}: \"{text}\"; {answered}. Check that the page "
            "escapes {param} wherever it is shown (and that it was not stored, e.g. in a comment or profile), "
            "and block {src} if it continues."),
    "cmdi": ("{src} tried OS command injection through {where}: \"{text}\"; {answered}. Check whether that code "
             "passes {param} to a shell: look on {target} for unexpected processes, downloads (wget/curl), new "
             "files in /tmp and outbound connections from the web server's user after {when}; block {src} now."),
    "rfi": ("{src} tried to make the server include or fetch a URL ({desc}) through {where}: \"{text}\"; "
            "{answered}. Check that {param} is never fetched or included, look for outbound connections from "
            "{target} after {when}, and block {src} at the firewall."),
    "jndi": ("{src} sent a Log4Shell (JNDI) payload in {where}: \"{text}\"; {answered}. Make sure no Java "
             "application on {target} runs Log4j 2 older than 2.17.1, look for outbound LDAP/RMI/DNS connections "
             "from {target} right after {when}, and block {src} at the firewall."),
}


def _in_networks(address: str, nets: list[Any]) -> bool:
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(addr in n for n in nets if n.version == addr.version)


def _path_of(url: str | None) -> str:
    if not url:
        return "(no URL)"
    path = split_url(url[:2048])[0]
    return decoded_url(path)


def _param(where: str) -> str | None:
    if where.startswith("parameter "):
        return f"parameter '{where[10:]}'"
    if where in ("user agent", "referrer", "host"):
        return f"the {where} header"
    return None


def _target(e: Event) -> str | None:
    extra = e.extra
    host = (extra.get("host") or extra.get("http_host") or extra.get("vhost")) if extra else None
    if isinstance(host, str) and host:
        return host[:200]
    return e.dst_ip


def _codes(statuses: dict[str, int]) -> str:
    parts = [f"{c} ×{n}" if n > 1 else c for c, n in sorted(statuses.items()) if c != "?"]
    return ", ".join(parts)


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _urls(events: list[Event]) -> list[str]:
    out: list[str] = []
    for e in events:
        if e.url:
            u = decoded_url(e.url)
            if u not in out:
                out.append(u)
                if len(out) >= 5:
                    break
    return out
