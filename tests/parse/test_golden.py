"""Golden samples: every parser is proven by real lines annotated with what must come out of them.

A golden file is ``tests/data/golden/<format name>.log`` (fail2ban's sample tests are the model).
Lines starting with ``#=`` are annotations about the next input line; every other line is input,
fed to one parser instance in order:

    #= context {"reference_time": "2026-06-01T00:00:00Z", "local_tz": "UTC", "observer": "fw1"}
    #: a comment for humans
    #= {"src_ip": "203.0.113.7", "http_status": 200, "timestamp": "2015-05-17T10:05:03Z"}
    83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 203 "-" "curl/8"
    #= quarantine bad_address
    999.1.1.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 203 "-" "curl/8"

Message parsers (``netwarden.parse._messages``: sshd, netfilter, ...) live inside the syslog parser; each has
``tests/data/golden/syslog.<message parser name>.log``, fed through the syslog parser like any golden file.

An expectation is a subset of ``Event.to_dict()`` (``extra`` too is compared as a subset); ``null`` means
the field must be empty. An input line with no annotation must be a header that yields no event, so
every event-producing sample line is checked. A parser without a golden file fails the suite.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from netwarden.parse import ParseContext, ParseError, parsers
from netwarden.parse._messages import message_parsers

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


def _context(spec: dict) -> ParseContext:
    ctx = ParseContext(source="golden")
    if "reference_time" in spec:
        ctx.reference_time = datetime.fromisoformat(spec["reference_time"].replace("Z", "+00:00"))
    if "local_tz" in spec:
        ctx.local_tz = ZoneInfo(spec["local_tz"])
    ctx.observer = spec.get("observer")
    return ctx


def _subset_mismatches(expected: dict, actual: dict) -> list[str]:
    problems = []
    for key, want in expected.items():
        got = actual.get(key)
        if key == "extra" and isinstance(want, dict):
            problems += [f"extra.{p}" for p in _subset_mismatches(want, got or {})]
        elif got != want:
            problems.append(f"{key}: expected {want!r}, got {got!r}")
    return problems


def run_golden(name: str, path: Path) -> int:
    """Feed a golden file to its parser; return the number of checked lines."""
    cls = parsers()[name]
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    parser = None
    pending: tuple[str, object] | None = None
    checked = 0
    for number, line in enumerate(lines, start=1):
        if line.startswith("#:"):
            continue
        if line.startswith("#= context "):
            assert parser is None, f"{path.name}:{number}: context must come before any input"
            parser = cls(_context(json.loads(line[len("#= context "):])))
            continue
        if line.startswith("#="):
            body = line[2:].strip()
            if body.startswith("quarantine"):
                pending = ("quarantine", body.split(None, 1)[1].strip())
            elif body == "header":
                pending = ("header", None)
            else:
                pending = ("event", json.loads(body))
            continue
        if parser is None:
            parser = cls(_context({}))
        where = f"{path.name}:{number}: {line[:120]!r}"
        kind, want = pending or ("header", None)
        pending = None
        if kind == "quarantine":
            with pytest.raises(ParseError) as info:
                parser.parse_line(line)
            assert info.value.reason == want, f"{where}: quarantined for {info.value.reason!r}, expected {want!r}"
        else:
            try:
                event = parser.parse_line(line)
            except ParseError as exc:
                pytest.fail(f"{where}: quarantined ({exc}) but expected {kind}")
            if kind == "header":
                assert event is None, f"{where}: unannotated line produced an event: {event.to_dict()}"
            else:
                assert event is not None, f"{where}: produced no event"
                problems = _subset_mismatches(want, event.to_dict())  # type: ignore[arg-type]
                assert not problems, f"{where}:\n  " + "\n  ".join(problems)
        checked += 1
    return checked


def _check_golden(parser_name: str, path: Path, owner: str) -> None:
    assert path.exists(), f"{owner} has no golden sample file {path}"
    text = path.read_text(encoding="utf-8")
    assert text.count("\n#= {") >= 3 or text.startswith("#= {"), \
        f"{path.name}: a golden file needs at least three annotated sample events"
    assert run_golden(parser_name, path) > 0


@pytest.mark.parametrize("name", sorted(parsers()))
def test_golden_sample(name: str) -> None:
    _check_golden(name, GOLDEN / f"{name}.log", f"parser {name!r}")


@pytest.mark.parametrize("name", sorted(message_parsers()))
def test_golden_message_sample(name: str) -> None:
    _check_golden("syslog", GOLDEN / f"syslog.{name}.log", f"syslog message parser {name!r}")


def test_every_golden_file_has_a_parser() -> None:
    known = set(parsers()) | {f"syslog.{name}" for name in message_parsers()}
    orphans = {p.stem for p in GOLDEN.glob("*.log")} - known
    assert not orphans, f"golden files without a parser: {sorted(orphans)}"
