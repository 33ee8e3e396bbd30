"""The syslog parser's shortcuts give exactly what the general path gives: the one-match header of the usual
auth.log line (``syslog._USUAL``), the message parsers asked once per program name (``claims_program``), sshd's
rules tried by the message's first character (``sshd._RULES_BY_FIRST``) and a repeated message's reading
remembered (``sshd._SEEN``). Every line of the loghub logs, the golden samples and damaged variants of them is
parsed with the shortcuts and without them: the same events (every field, ``extra`` in the same key order, as
it is stored) or the same quarantine reason."""

from __future__ import annotations

import gzip
import random
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from netwarden.parse import ParseContext, ParseError, sshd, syslog
from netwarden.parse._messages import message_parsers
from netwarden.parse.syslog import Syslog

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
NEVER = re.compile(r"(?!)")


def _variants(line: str, rng: random.Random) -> list[str]:
    """The line and damaged or unusual forms of it, around what the shortcuts look at."""
    head, _, rest = line.partition(": ")
    out = [line, line + " ", line + "\r", "  " + line, line.replace(" ", "  ", 3), line.replace(" ", "\t", 1),
           line.replace(":", ".123:", 1) if line[:1].isalpha() else line, "<38>" + line, line[:15],
           line[:16], head + ":", head + ":" + rest, head + ":  " + rest, line.replace("[", "", 1),
           line.replace("]", "]]", 1), line.replace(" ", " 2025 ", 2).replace(" 2025 ", " ", 1),
           line.replace("sshd", "sshd-session", 1), line.replace("sshd", "SSHD", 1), line.replace("sshd[", "sshd [", 1),
           line.replace(" LabSZ ", " " + "h" * 256 + " ", 1), line.replace(" LabSZ ", " ", 1),
           line.replace("Dec", "Dek", 1), line.replace("Jun", "jun", 1), line.replace("1", "\u0661", 1)]
    if rest:
        cut = rng.randrange(len(rest) + 1)
        out += [head + ": " + rest[:cut], head + ": error: " + rest, head + ": fatal: " + rest,
                head + ": message repeated 3 times: [ " + rest + "]", head + ": " + rest + " [preauth]",
                head + ": " + rest[cut:] + rest[:cut], head + ": " + rest.lower(), head + ": " + rest.upper(),
                head + ": 3 " + rest, head + ": " + rng.choice("0aAzZ ([-") + rest]
    return out


def _outcome(parser: Syslog, line: str) -> object:
    try:
        event = parser.parse_line(line)
    except ParseError as exc:
        return ("quarantine", exc.reason, exc.detail)
    if event is None:
        return None
    return event.to_dict(), list(event.extra.items())


def _lines(datasets: Path) -> list[str]:
    loghub = datasets / "loghub"
    lines = (loghub / "OpenSSH_2k.log").read_text(encoding="utf-8").splitlines()
    lines += (loghub / "Linux_2k.log").read_text(encoding="utf-8", errors="replace").splitlines()
    with gzip.open(loghub / "Linux.log.gz", "rt", encoding="utf-8", errors="replace") as f:
        lines += f.read().splitlines()[::40]
    for path in sorted(GOLDEN.glob("syslog*.log")):
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return lines


def test_the_shortcuts_change_nothing(datasets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(14)
    lines = [variant for line in _lines(datasets) for variant in _variants(line, rng)]
    reference = datetime(2016, 1, 15, tzinfo=timezone.utc)
    fast = Syslog(ParseContext(source="test", reference_time=reference))
    got = [_outcome(fast, line) for line in lines]
    monkeypatch.setattr(syslog, "_USUAL", NEVER)
    monkeypatch.setattr(sshd, "_RULES_BY_FIRST", {})
    monkeypatch.setattr(sshd, "_RULES_ANY_START", tuple(sshd._RULES))
    monkeypatch.setattr(sshd, "_SEEN_LENGTH", -1)  # every message read anew
    monkeypatch.setattr(sshd, "_SEEN", {})  # and none answered from what the fast run remembered
    for cls in message_parsers().values():  # every message parser asked about every message
        monkeypatch.setattr(cls, "claims_program", lambda self, program: None)
        monkeypatch.setattr(cls, "claim_prefixes", lambda self, program: None)
    general = Syslog(ParseContext(source="test", reference_time=reference))
    differ = [(line, have, want) for line, have in zip(lines, got) if have != (want := _outcome(general, line))]
    assert not differ, differ[:3]
    # the comparison covers what matters: most lines took the shortcut, and some of every kind were refused
    assert sum(1 for line in lines if syslog._HEADER.match(line) and not line.startswith("<")) > 50_000
    assert sum(1 for o in got if isinstance(o, tuple) and o[0] == "quarantine") > 1000


def test_every_rule_is_reachable_by_its_first_characters() -> None:
    """A rule left out of a character's list would never match messages starting with it."""
    samples = {"auth": "Failed password for root from 203.0.113.7 port 22 ssh2",
               "invalid_user": "Invalid user x from 203.0.113.7",
               "pam_auth_failure": "5 more authentication failures; logname= uid=0 rhost=203.0.113.7",
               "session_opened": "session opened for user root by (uid=0)",
               "root_login_refused": "ROOT LOGIN REFUSED FROM 203.0.113.7"}
    for code, text in samples.items():
        tried = [c for c, _, rx, _ in sshd._RULES_BY_FIRST[text[0]] if rx.match(text)]
        assert tried[:1] == [code], (code, tried)
    assert sshd._RULES_ANY_START == ()  # every rule starts with something known: none is tried for all messages
