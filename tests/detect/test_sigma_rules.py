"""Sigma rules read with pySigma and compiled to NetWarden's matching: a folder of rules catches what they
describe (title, level, ATT&CK tags on the alert) and stays silent on ordinary requests; a rule with a field
NetWarden does not store, or a broken file, is a clear settings error."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.detect.base import SettingsError
from netwarden.detect.engine import DetectionEngine
from netwarden.detect.sigma import SigmaRules
from netwarden.records import Event

RULES = Path(__file__).resolve().parents[1] / "data" / "sigma"
T0 = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)


def request(i: int, url: str, status: int = 200, agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            src: str = "198.51.100.23") -> Event:
    return Event(timestamp=T0 + timedelta(seconds=i), source_kind="access_log", src_ip=src, dst_ip="10.0.0.80",
                 dst_port=443, http_method="GET", url=url, http_status=status, user_agent=agent)


def test_a_folder_of_rules_catches_what_they_describe() -> None:
    d = SigmaRules({"rules": [str(RULES)]})
    assert sorted(r.title for r in d.compiled) == ["Vulnerability scanner user agent",
                                                   "Web shell command in a PHP request"]
    found = d.process([request(1, "/uploads/x.PHP?CMD=id"), request(2, "/uploads/x.php?exec=ls", src="203.0.113.9"),
                       request(3, "/index.html", agent="sqlmap/1.7#stable")])
    shells = [f for f in found if f.evidence["title"].startswith("Web shell")]
    assert sorted(f.source for f in shells) == ["198.51.100.23", "203.0.113.9"]  # case-insensitive, per source
    assert all(f.severity == "high" and f.evidence["attack"] == ["attack.persistence", "attack.t1505.003"]
               for f in shells)
    [scanner] = [f for f in found if f.evidence["title"].startswith("Vulnerability")]
    assert scanner.severity == "medium" and scanner.kind == "sigma"
    assert scanner.subkind == "vulnerability_scanner_user_agent"


def test_silent_on_ordinary_requests() -> None:
    d = SigmaRules({"rules": [str(RULES)]})
    ordinary = [request(1, "/index.php?page=2"), request(2, "/search.php?q=command+line"),
                request(3, "/shell.php?cmd=id", status=404),  # the rule's filter: a probe that missed
                request(4, "/docs/cmd=help.html"), request(5, "/", agent="Mozilla/5.0 (compatible; sqlmapper-fan)")]
    assert d.process(ordinary) == []


def test_bad_rules_are_clear_errors(tmp_path: Path) -> None:
    odd = tmp_path / "odd.yml"
    odd.write_text("title: t\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|endswith: cmd.exe\n"
                   "  condition: sel\n")
    with pytest.raises(SettingsError, match="Image"):
        SigmaRules({"rules": [str(odd)]})
    broken = tmp_path / "broken.yml"
    broken.write_text("title: [unclosed\n")
    with pytest.raises(SettingsError, match="not a Sigma rule file"):
        SigmaRules({"rules": [str(broken)]})
    with pytest.raises(SettingsError, match="no such file"):
        SigmaRules({"rules": [str(tmp_path / "missing")]})


def test_alert_through_the_engine(db) -> None:  # type: ignore[no-untyped-def]
    engine = DetectionEngine.from_config({"sigma": {"rules": [str(RULES / "webshell.yml")]}}, db, only=["sigma"])
    engine.process([request(1, "/up/s.php?cmd=whoami")])
    [alert] = engine.alerts
    assert alert.evidence["title"] == "Web shell command in a PHP request" and alert.severity == "high"
    assert alert.evidence["attack"] == ["attack.persistence", "attack.t1505.003"]
