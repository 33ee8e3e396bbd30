"""What the web attack detector remembers of a source and of a batch's matching requests, and the alerts it
builds from them: severity from the response codes, the factors, a recommendation naming the parameter and
the time, the evidence. The detector (``web_attack.py``) decides which requests match."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import itemgetter
from string import Formatter
from typing import TYPE_CHECKING, Any

from netwarden.detect import scoring
from netwarden.detect._web_decoding import MEMO_LENGTH, Memo
from netwarden.detect._web_inspect import decoded_url, split_url
from netwarden.detect._web_signatures import ADMIN_PANEL, INFO_ENDPOINT, Match
from netwarden.detect.base import DetectorPart
from netwarden.records import Event, Factor, Finding, Severity

INJECTION = frozenset({"sqli", "traversal", "cmdi", "jndi", "rfi"})
ATTACKS = INJECTION | {"xss"}
NAMES = {"sqli": "SQL injection", "traversal": "directory traversal / local file inclusion", "xss": "cross-site scripting",
         "cmdi": "OS command injection", "rfi": "remote file inclusion / SSRF", "jndi": "Log4Shell (JNDI) injection",
         "sensitive_file": "sensitive file probe", "scanner_tool": "attack tool"}
MAX_PATHS = 50  # distinct sensitive paths remembered per source


class SourceHistory:
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
    def from_dict(cls, d: dict[str, Any]) -> SourceHistory:
        s = cls(datetime.fromisoformat(d["first"]))
        s.hits = {str(k): int(v) for k, v in dict(d.get("hits") or {}).items()}
        s.rules = {str(k): int(v) for k, v in dict(d.get("rules") or {}).items()}
        s.paths = [str(p) for p in list(d.get("paths") or [])][:MAX_PATHS]
        s.statuses = {str(k): {str(c): int(n) for c, n in dict(v).items()}
                      for k, v in dict(d.get("statuses") or {}).items()}
        s.tool, s.tool_kind = d.get("tool"), d.get("tool_kind")
        s.tool_requests = int(d.get("tool_requests") or 0)
        return s


@dataclass(slots=True)
class RequestGroup:
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
        texts = self.texts
        if len(texts) < 5 and m.text not in texts:
            texts.append(m.text)
        status = e.http_status
        code = "?" if status is None else (_CODE_TEXT.get(status) if type(status) is int else None) or str(status)
        statuses = self.statuses
        statuses[code] = statuses.get(code, 0) + 1
        if status is not None and 200 <= status < 300 and len(self.served) < 5:
            self.served.append((m.text, status, e.bytes_in))
        last = self.last
        if when is not last:  # (the requests of one second share their time object)
            if last is None:
                self.first = self.last = when
            elif when > last:
                self.last = when
            elif when < self.first:  # type: ignore[operator]
                self.first = when


_CODE_TEXT = {code: str(code) for code in range(100, 600)}  # a status code as evidence shows it


class WebFindings(DetectorPart):
    """The alert building half of :class:`~netwarden.detect.web_attack.WebAttack` (a mixin: it uses the
    detector's settings, its anomaly model and ``finding``)."""

    _batch_common: dict[str, list[Factor]]  # source -> its shared factors, for the batch being reported
    _batch_kinds: dict[tuple[str, str], tuple[Any, ...]]  # (source, subkind) -> ``_kind_of_source``, this batch
    _batch_models: list[tuple[Any, Any]]  # the active request models, for the batch being reported
    name: str  # the detector's
    keep_events: bool

    if TYPE_CHECKING:  # the detector's; declared for the type checker only, or it would shadow it
        def _anomaly(self, events: list[Event]) -> tuple[list[Factor], dict[str, Any]]: ...

    def _common_factors(self, src: str, st: SourceHistory) -> list[Factor]:
        """The factors every alert of ``src`` shares; the same for all of a batch's alerts of that source (its
        history is folded in first), so they are worked out once per batch (``_batch_common``)."""
        found = self._batch_common.get(src)
        if found is not None:
            return found
        factors = self._batch_common[src] = []
        if st.tool and st.tool_kind != "internet":
            factors.append(Factor("tool_user_agent", 0.5, f"user agent of {st.tool}"))
        attack_rules = [r for r in st.rules if not r.startswith(("sensitive-", "tool-"))]
        kinds = [k for k in st.hits if k in ATTACKS]
        if len(attack_rules) >= 3 or len(kinds) >= 2:
            factors.append(Factor("variety", min(0.5, 0.1 * len(attack_rules) + 0.1 * len(kinds)),
                                  f"{len(attack_rules)} different attack patterns from {src} "
                                  f"({', '.join(sorted(attack_rules)[:6])}{', ...' if len(attack_rules) > 6 else ''})"))
        return factors

    def _attack_finding(self, src: str, st: SourceHistory, subkind: str, g: RequestGroup) -> Finding:
        m = g.match
        e0 = g.events[0]
        path = path_of(e0.url)
        said = _SAID.get((m.rule.id, m.where, m.text, m.evasion))
        if said is None:
            said = _SAID[(m.rule.id, m.where, m.text, m.evasion)] = _said(m)
        pattern, evasion, param, text = said
        shared = self._batch_kinds.get((src, subkind))
        if shared is None:
            shared = self._batch_kinds[(src, subkind)] = self._kind_of_source(src, st, subkind)
        repeated, common, answered, status_codes, total = shared
        factors = [pattern, evasion] if evasion else [pattern]
        if repeated is not None:
            factors.append(repeated)
        factors += common
        statuses = g.statuses
        ok = errors = 0
        for c, n in statuses.items():
            if c[0] == "2":
                ok += n
            elif c[0] == "5":
                errors += n
        if ok:
            codes = next(iter(statuses)) if len(statuses) == 1 else "/".join(
                sorted(c for c in statuses if c.startswith("2")))
            factors.append(_ANSWERED[(codes, ok, g.count)])
        if subkind in INJECTION:
            if errors:
                factors.append(_SERVER_ERROR[(errors, g.count)])
            severity = Severity.HIGH if ok or "?" in statuses else Severity.MEDIUM
        else:
            severity = Severity.MEDIUM if ok or "?" in statuses else Severity.LOW
        target = _target(e0)
        recommendation = _RECOMMEND[subkind].render((src, f"{path} ({m.where})" if param else path, path,
                                                     param or "the input", _clock(g.first, zone=True), answered,
                                                     target or "the server", m.rule.description, text))
        evidence = {"matched": g.texts, "rules": [m.rule.id], "where": [m.where],
                    "urls": _urls(g.events), "status_codes": status_codes, "requests": total}
        if m.evasion:
            evidence["evasion"] = list(m.evasion)
        if e0.user_agent:
            evidence["user_agents"] = [e0.user_agent[:200]]
        if target:
            evidence["targets"] = [target]
        return self._make(subkind, m.rule.id, severity, factors, recommendation, g, src, target, evidence)

    def _kind_of_source(self, src: str, st: SourceHistory, subkind: str) -> tuple[Factor | None, list[Factor], str,
                                                                                  dict[str, int], int]:
        """What every finding of ``subkind`` from ``src`` in this batch says alike (its history is folded in
        first): the "repeated" factor, the shared factors, the answer codes, the status codes, the requests.
        A flood's source sends a kind of attack with several payloads per batch: worked out once."""
        total = st.hits.get(subkind, 0)
        repeated = Factor("repeated", _REPEATED[total],
                          f"{total} {NAMES[subkind]} requests from {src} since {_clock(st.first)}") if total >= 2 else None
        codes = _codes(st.statuses.get(subkind, {}))
        answered = f"the server answered {codes}" if codes else "the response status is unknown"
        # one dict for the batch's findings of this kind from this source: evidence is replaced, never changed
        return repeated, self._common_factors(src, st), answered, dict(st.statuses.get(subkind, {})), total

    def _sensitive_finding(self, src: str, st: SourceHistory, g: RequestGroup) -> Finding:
        m = g.match
        e0 = g.events[0]
        path = path_of(e0.url)
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

    def _tool_finding(self, src: str, st: SourceHistory, tool: str, kind: str, agent: str, g: RequestGroup) -> Finding:
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

    def _make(self, subkind: str, rule_id: str, severity: Severity, factors: list[Factor], rec: str, g: RequestGroup,
              src: str, target: str | None, evidence: dict[str, Any]) -> Finding:
        assert g.first is not None and g.last is not None
        if self._batch_models:  # an active request model adds its view
            anomaly, scores = self._anomaly(g.events)
            if anomaly:
                factors = [*factors, *anomaly]
                evidence["anomaly"] = scores
        events = g.events  # what ``self.finding`` makes of them, without its keyword round trip (one per alert)
        return Finding(kind="web_attack", detector=self.name, severity=severity, factors=factors,
                       recommendation=rec, first_seen=g.first, last_seen=g.last, source=src, target=target,
                       count=g.count, signature=f"{subkind}:{rule_id}", subkind=subkind, evidence=evidence,
                       samples=events[:3], events=list(events) if self.keep_events else [])


class _Template:
    """A ``str.format`` template of named fields, rendered by %-formatting: ``str.format`` parses a template
    this long on every call (about three times the cost), and a flood asks for one per alert."""

    __slots__ = ("fields", "pick", "text")

    def __init__(self, template: str, order: tuple[str, ...] = ()) -> None:
        parts = list(Formatter().parse(template))
        assert all(not spec and conversion is None for _, _, spec, conversion in parts), "plain {name} fields only"
        self.text = "".join(literal.replace("%", "%%") + ("%s" if name is not None else "")
                            for literal, name, _, _ in parts)
        names = [name for _, name, _, _ in parts if name is not None]
        assert len(names) >= 2, "itemgetter of one name gives a value, not a tuple"
        self.fields = itemgetter(*names)
        self.pick = itemgetter(*[order.index(name) for name in names]) if order else None

    def format(self, **values: str) -> str:
        return self.text % self.fields(values)

    def render(self, values: tuple[str, ...]) -> str:
        """``format`` of the values named by ``order``, in that order (no keywords to gather per alert)."""
        return self.text % self.pick(values)  # type: ignore[misc]


_ORDER = ("src", "where", "path", "param", "when", "answered", "target", "desc", "text")  # _RECOMMEND's fields


# what to do about each kind of injection
_RECOMMEND = {k: _Template(v, _ORDER) for k, v in {
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
}.items()}


# (rule, where, text, evasion) of a match -> its pattern and evasion factors, the parameter named, the text shown
_SAID: dict[tuple[str, str, str, tuple[str, ...]], tuple[Factor, Factor | None, str | None, str]] = {}
MAX_SAID = 4096


# the factors of a group's answers: a flood's findings say the same few things (factors are never changed)
_ANSWERED: Memo[tuple[str, int, int], Factor] = Memo(lambda k: Factor(
    "answered", 0.25, f"the server answered {k[0]} to {k[1]} of {k[2]}: it may have worked"))
_SERVER_ERROR: Memo[tuple[int, int], Factor] = Memo(lambda k: Factor(
    "server_error", 0.15, f"server error to {k[0]} of {k[1]}: the input reached the application"))


def _said(m: Match) -> tuple[Factor, Factor | None, str | None, str]:
    """What an alert says of its match (the same match comes back in every alert of a flood)."""
    if len(_SAID) >= MAX_SAID:
        _SAID.clear()
    return (Factor("pattern", m.rule.strength, f'{m.where}: matched "{_short(m.text)}" — {m.rule.description}'),
            Factor("evasion", 0.3, f"hidden with {', '.join(m.evasion)}") if m.evasion else None,
            _param(m.where), _short(m.text, 80))


def path_of(url: str | None) -> str:
    if not url:
        return "(no URL)"
    return _PATHS[url] if len(url) <= MEMO_LENGTH else _path_of(url)


def _path_of(url: str) -> str:
    return decoded_url(split_url(url[:2048])[0])


_PATHS: Memo[str, str] = Memo(_path_of)
_REPEATED: Memo[int, float] = Memo(lambda total: scoring.saturating(total - 1, 4, 0.6))  # weight of n requests
_STAMPS: Memo[datetime, str] = Memo(lambda t: f"{t:%Y-%m-%d %H:%M:%S}")
_STAMPS_ZONE: Memo[datetime, str] = Memo(lambda t: f"{t:%Y-%m-%d %H:%M:%S %Z}".strip())


def _clock(t: datetime, *, zone: bool = False) -> str:
    """``t`` to the second (with its zone's name): remembered for UTC times, where equal times print alike (the
    same instant in two zones is one key but two texts)."""
    if t.tzinfo is timezone.utc:
        return (_STAMPS_ZONE if zone else _STAMPS)[t]
    return f"{t:%Y-%m-%d %H:%M:%S %Z}".strip() if zone else f"{t:%Y-%m-%d %H:%M:%S}"


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
    if len(statuses) == 1:  # most often: one status, one request
        for c, n in statuses.items():
            return "" if c == "?" else f"{c} ×{n}" if n > 1 else c
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
