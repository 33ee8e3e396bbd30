"""Web attacks in HTTP requests: injections, traversal, XSS, Log4Shell, sensitive-file probes and attack tools.

Every HTTP request NetWarden sees — access-log lines, Suricata ``http`` events, the per-request events of
packet captures — passes through here. Each request target is split into its path and parameters, each
piece is decoded the way a server would (repeatedly, so double encoding does not hide anything; ``+``,
``%uXXXX``, HTML entities, overlong UTF-8, SQL comments inside keywords, null bytes) and matched against
specific signatures (``_web_signatures``, applied by ``_web_inspect`` after ``_web_decoding``). User
agents are checked for attack tools and, with the referrer and Host, for Log4Shell and Shellshock payloads.
The alerts are built in ``_web_findings``.

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
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from operator import attrgetter
from typing import Any

from netwarden.detect._web_findings import MAX_PATHS, RequestGroup, SourceHistory, WebFindings, path_of
from netwarden.detect._web_inspect import inspect_header, inspect_lookups, inspect_url
from netwarden.detect._web_signatures import INFO_ENDPOINT, TOOL_AGENT_RULE, Match, tool_agent
from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.detect.windows import KeyedState
from netwarden.records import Event, Factor, Finding, Severity

log = logging.getLogger(__name__)
CACHE_SIZE = 8192  # distinct URLs / user agents remembered with their verdict (most traffic repeats)
CACHE_URL_LENGTH = 1024  # longer URLs are inspected every time rather than pinning memory
MAX_STATUSES = 16


@register
class WebAttack(WebFindings, Detector):
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
        self.sources: KeyedState[SourceHistory] = KeyedState(lambda: SourceHistory(datetime.min.replace(tzinfo=timezone.utc)),
                                                       idle=timedelta(minutes=s.idle_minutes),
                                                       max_keys=s.max_sources)
        self._url_cache: dict[str, tuple[Match, ...]] = {}
        self._ua_cache: dict[str, tuple[tuple[str, str] | None, tuple[Match, ...]]] = {}
        self._latest: datetime | None = None
        self._batch_common = {}
        self._batch_kinds = {}
        nets = [ipaddress.ip_network(n, strict=False) for n in s.ignore_sources]
        self._ignored = lru_cache(maxsize=4096)(lambda a: _in_networks(a, nets)) if nets else None
        self._models: Any = None  # the registry's active models (an MlDetector as loader), once bound
        self._batch_models: list[tuple[Any, Any]] = []  # the request models of the batch being reported

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
        if not self._batch_models or not events:
            return [], {}
        factors, evidence = [], {}
        for record, model in self._batch_models:
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

    def _request_models(self) -> list[tuple[Any, Any]]:
        """The active request models (http_profile), asked once per batch: every alert of a batch is weighed by
        the same ones (asking per alert re-checked the registry thousands of times a batch under a flood)."""
        if self._models is None:
            return []
        return [(record, model) for record, model in self._models.active_models() if model.algorithm == "http_profile"]

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
        groups: dict[tuple[str, str, str], RequestGroup] = {}
        tools: dict[str, tuple[str, str, str, RequestGroup]] = {}  # src -> (tool, kind, agent, group)
        latest = self._latest
        keep = 1 << 62 if self.keep_events else 50
        url_cache, ua_cache = self._url_cache, self._ua_cache  # their hits without a call (a flood repeats)
        ignored = self._ignored
        for e in events:
            url = e.url
            ua = e.user_agent
            if url is None and ua is None:
                continue
            if url:
                matches: tuple[Match, ...] | None = url_cache.get(url)
                if matches is None:
                    matches = self._url_matches(url)
            else:
                matches = ()
            tool = None
            if ua:
                tool, ua_matches = ua_cache.get(ua) or self._agent(ua)
                if ua_matches:
                    matches += ua_matches
            extra = e.extra
            if extra and not _HEADERS.isdisjoint(extra):  # one C call for the lines without these headers
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
            if ignored is not None and ignored(src):
                continue
            for m in matches:
                rule = m.rule
                if rule is INFO_ENDPOINT and self.assets.is_inside(src):
                    continue  # the server's own monitoring polls /server-status
                key = (src, rule.subkind, rule.id)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = RequestGroup(m, keep=keep)
                group.add(e, m, when)
            if tool is not None:
                entry = tools.get(src)
                if entry is None:
                    entry = tools[src] = (tool[0], tool[1], ua or "", RequestGroup(Match(TOOL_AGENT_RULE, tool[0], "user agent"), keep=keep))
                entry[3].add(e, entry[3].match, when)
        self._latest = _latest(events, latest)  # event time moves on even in batches without attacks
        if not groups and not tools:
            return []
        return self._findings(groups, tools)

    # -- findings -----------------------------------------------------------------------------------

    def _findings(self, groups: dict[tuple[str, str, str], RequestGroup],
                  tools: dict[str, tuple[str, str, str, RequestGroup]]) -> list[Finding]:
        # first fold the whole batch into the sources' state, so every finding sees the full picture
        self._batch_common, self._batch_kinds = {}, {}
        self._batch_models = self._request_models()
        evicted = self.sources.evicted
        folded = []  # each group's source state, for the findings below while no state was evicted meanwhile
        for (src, subkind, rule_id), g in groups.items():
            st = self._state(src, g)
            folded.append(st)
            st.hits[subkind] = st.hits.get(subkind, 0) + g.count
            st.rules[rule_id] = st.rules.get(rule_id, 0) + g.count
            codes = st.statuses.setdefault(subkind, {})
            for code, n in g.statuses.items():
                if code in codes or len(codes) < MAX_STATUSES:
                    codes[code] = codes.get(code, 0) + n
            if subkind == "sensitive_file":
                for e in g.events:
                    path = path_of(e.url)
                    if path not in st.paths and len(st.paths) < MAX_PATHS:
                        st.paths.append(path)
        for src, (tool, kind, _agent, g) in tools.items():
            st = self._state(src, g)
            st.tool, st.tool_kind = tool, kind
            st.tool_requests += g.count
        out: list[Finding] = []
        if self.sources.evicted != evicted:  # a state of this batch may have gone (the table was full)
            folded = [self.sources.peek(src) for src, _, _ in groups]
        for ((src, subkind, _rule_id), g), st in zip(groups.items(), folded):
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
        self._batch_common, self._batch_kinds = {}, {}
        self._batch_models = []
        return out

    def _state(self, src: str, g: RequestGroup) -> SourceHistory:
        assert g.last is not None and g.first is not None
        st = self.sources.get(src, g.last)
        if st.first.year == 1 or g.first < st.first:
            st.first = g.first
        return st

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
                self.sources.put(str(key), datetime.fromisoformat(seen), SourceHistory.from_dict(data))
            except (TypeError, ValueError, KeyError):
                continue  # one damaged entry does not lose the others
        while len(self.sources) > self.settings.max_sources:
            self.sources._items.popitem(last=False)


_HEADERS = frozenset({"referrer", "host", "http_host"})  # the extra fields looked into for JNDI/Shellshock


def _latest(events: Sequence[Event], latest: datetime | None) -> datetime | None:
    """The latest of ``latest`` and the events' times (naive ones are UTC): the first of equal ones, as
    comparing them in turn would find it. In C when the times can be compared as they are (all aware, or
    all naive: then made UTC after, which keeps their order)."""
    times = [t for t in map(_TIMESTAMP, events) if t is not None]
    if not times:
        return latest
    try:
        top = max(times)
    except TypeError:  # naive and aware together: each made UTC first
        top = max(t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc) for t in times)
    if top.tzinfo is None:
        top = top.replace(tzinfo=timezone.utc)
    return top if latest is None or top > latest else latest


_TIMESTAMP = attrgetter("timestamp")


def _in_networks(address: str, nets: list[Any]) -> bool:
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(addr in n for n in nets if n.version == addr.version)


