"""Sigma rules for log events: rule files (or folders of them) read with pySigma, compiled to NetWarden's
own matching over the stored event fields, each match an alert with the rule's title, level and tags
(ATT&CK tags listed apart)::

    [detect.sigma]
    rules = ["/etc/netwarden/sigma/", "/srv/rules/webshell.yml"]
    imported = "netwarden-rules/sigma"   # where `netwarden rules import-sigma` and the Rules page put rules

pySigma parses the rule and resolves its condition (``selection and not filter``, ``1 of sel*`` ...) into
AND/OR/NOT of field comparisons; this module turns that tree into a Python predicate. Sigma's field names
for web servers, proxies, firewalls and logins map onto the event fields (``FIELDS``); a rule naming a field
NetWarden does not store is refused at load with the field's name (it could never match). Text matching is
case-insensitive with Sigma's wildcards; ``|re`` is a regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.records import Event, Factor, Finding, Severity

FIELDS = {
    "c-ip": "src_ip", "src_ip": "src_ip", "SourceIp": "src_ip", "source.ip": "src_ip", "client_ip": "src_ip",
    "dst_ip": "dst_ip", "DestinationIp": "dst_ip", "destination.ip": "dst_ip", "s-ip": "dst_ip",
    "dst_port": "dst_port", "DestinationPort": "dst_port", "destination.port": "dst_port", "s-port": "dst_port",
    "src_port": "src_port", "SourcePort": "src_port",
    "c-uri": "url", "cs-uri": "url", "cs-uri-query": "url", "cs-uri-stem": "url", "url": "url", "url.original": "url",
    "cs-method": "http_method", "method": "http_method", "http.request.method": "http_method",
    "sc-status": "http_status", "status": "http_status", "http.response.status_code": "http_status",
    "c-useragent": "user_agent", "cs-user-agent": "user_agent", "user_agent": "user_agent",
    "user_agent.original": "user_agent",
    "User": "user", "user": "user", "TargetUserName": "user", "user.name": "user",
    "action": "action", "outcome": "outcome", "event.outcome": "outcome",
    "Protocol": "transport", "network.transport": "transport", "app_protocol": "app_protocol",
    "message": "message", "Message": "message",
}
KEYWORD_FIELDS = ("message", "url", "raw")  # where a value without a field is looked for
LEVELS = {"informational": Severity.LOW, "low": Severity.LOW, "medium": Severity.MEDIUM, "high": Severity.HIGH,
          "critical": Severity.CRITICAL}
Predicate = Callable[[Event], bool]


class SigmaError(ValueError):
    """A rule that cannot be used; the message names the file and the reason."""


class CompiledRule:
    def __init__(self, rule: Any, where: str) -> None:
        self.title = str(rule.title)
        self.id = str(rule.id or rule.name or self.title)
        self.level = LEVELS.get(str(rule.level.name).lower() if rule.level else "medium", Severity.MEDIUM)
        self.tags = [f"{t.namespace}.{t.name}" for t in rule.tags]
        self.attack = [t for t in self.tags if t.startswith("attack.")]
        self.description = str(rule.description or "")
        self.file = where
        self.slug = re.sub(r"[^a-z0-9]+", "_", self.title.lower()).strip("_")[:32] or "rule"
        try:
            trees = [c.parse() for c in rule.detection.parsed_condition]
            self.match = _any([_compile(t) for t in trees])
        except SigmaError as exc:
            raise SigmaError(f"{where}: rule {self.title!r}: {exc}") from None


def load_rules(paths: Sequence[str]) -> list[CompiledRule]:
    """Every rule of the given files and folders (``*.yml``, ``*.yaml``, recursively)."""
    import yaml
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError as PySigmaError

    found: list[CompiledRule] = []
    for text in paths:
        path = Path(text)
        if not path.exists():
            raise SigmaError(f"{path}: no such file or folder")
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]
        for file in files:
            try:
                collection = SigmaCollection.from_yaml(file.read_text(encoding="utf-8"))
            except (PySigmaError, yaml.YAMLError, OSError, UnicodeDecodeError, ValueError) as exc:
                raise SigmaError(f"{file}: not a Sigma rule file: {exc}") from None
            except (AttributeError, TypeError, KeyError):  # pySigma on YAML that is not a rule (a number ...)
                raise SigmaError(f"{file}: not a Sigma rule file: a rule is a YAML mapping with title, "
                                 "logsource and detection") from None
            for rule in collection.rules:
                try:
                    found.append(CompiledRule(rule, str(file)))
                except PySigmaError as exc:  # its condition does not parse (a selection that is not there ...)
                    raise SigmaError(f"{file}: rule {str(rule.title)!r}: {exc}") from None
    return found


def _any(predicates: list[Predicate]) -> Predicate:
    return lambda e: any(p(e) for p in predicates)


def _compile(node: Any) -> Predicate:
    from sigma import conditions as c

    if isinstance(node, c.ConditionAND):
        parts = [_compile(a) for a in node.args]
        return lambda e: all(p(e) for p in parts)
    if isinstance(node, c.ConditionOR):
        return _any([_compile(a) for a in node.args])
    if isinstance(node, c.ConditionNOT):
        inner = _compile(node.args[0])
        return lambda e: not inner(e)
    if isinstance(node, c.ConditionFieldEqualsValueExpression):
        name = FIELDS.get(node.field)
        if name is None:
            raise SigmaError(f"field {node.field!r} is not stored by NetWarden (known: {', '.join(sorted(FIELDS))})")
        test = _value_test(node.value)
        return lambda e: test(getattr(e, name))
    if isinstance(node, c.ConditionValueExpression):  # a keyword: anywhere in the text fields
        test = _value_test(node.value, anywhere=True)
        return lambda e: any(test(getattr(e, f)) for f in KEYWORD_FIELDS)
    raise SigmaError(f"unsupported condition {type(node).__name__}")


def _value_test(value: Any, anywhere: bool = False) -> Callable[[Any], bool]:
    from sigma.types import SigmaNull, SigmaNumber, SigmaRegularExpression, SigmaString, SpecialChars

    if isinstance(value, SigmaNull):
        return lambda v: v is None
    if isinstance(value, SigmaNumber):
        number = value.number
        return lambda v: v is not None and str(v) == str(number)
    if isinstance(value, SigmaRegularExpression):
        pattern = re.compile(str(value.regexp))
        return lambda v: v is not None and pattern.search(str(v)) is not None
    if isinstance(value, SigmaString):
        parts = []
        for part in value.s:
            if part == SpecialChars.WILDCARD_MULTI:
                parts.append(".*")
            elif part == SpecialChars.WILDCARD_SINGLE:
                parts.append(".")
            else:
                parts.append(re.escape(str(part)))
        body = "".join(parts)
        pattern = re.compile(f".*{body}.*" if anywhere else body, re.IGNORECASE | re.DOTALL)
        return lambda v: v is not None and pattern.fullmatch(str(v)) is not None
    raise SigmaError(f"unsupported value type {type(value).__name__}")


@register
class SigmaRules(Detector):
    name = "sigma"
    description = "Sigma rules (files or folders) matched against log events"

    class Settings(DetectorSettings):
        rules: list[str] = Field(default_factory=list)  # rule files and folders
        imported: str = "netwarden-rules/sigma"  # the folder of imported rules (read when it exists)

    @property
    def paths(self) -> list[str]:
        imported = self.settings.imported
        return [*self.settings.rules, *([imported] if imported and Path(imported).is_dir() else [])]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from netwarden.detect.base import SettingsError

        try:
            self.compiled = load_rules(self.paths) if self.paths else []
        except SigmaError as exc:
            raise SettingsError(f"[detect.sigma] {exc}") from None

    def process(self, events: Sequence[Event]) -> list[Finding]:
        out = []
        for rule in self.compiled:
            by_source: dict[str | None, list[Event]] = {}
            for e in events:
                if rule.match(e):
                    by_source.setdefault(e.src_ip, []).append(e)
            for source, hits in by_source.items():
                out.append(self.finding(
                    kind="sigma", subkind=rule.slug, severity=rule.level, source=source,
                    target=hits[-1].dst_ip, count=len(hits), signature=f"sigma:{rule.id}"[:255],
                    factors=[Factor("sigma rule", 0.9, f"{rule.title} ({len(hits)} events)")],
                    recommendation=rule.description or f"see the Sigma rule {rule.title!r}",
                    first_seen=hits[0].timestamp, last_seen=hits[-1].timestamp, events=hits,
                    evidence={"title": rule.title, "rule_id": rule.id, "level": str(rule.level),
                              "tags": rule.tags, "attack": rule.attack}))
        return out
