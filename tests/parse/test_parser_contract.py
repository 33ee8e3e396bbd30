"""The parser contract, checked with hypothesis for EVERY registered parser and syslog message parser.

A parser added later is covered without touching this file: the tests are parametrised over
``parsers()`` and ``message_parsers()``, and the mutation seeds are the parser's own golden file
(``tests/data/golden/<name>.log``, ``syslog.<message parser>.log``; see ``test_golden.py``).

Properties:

1. Whatever the line -- random text (control characters, NUL, any non-surrogate code point, lines of
   up to ~100 KB), random bytes decoded as the file reader does (UTF-8, ``backslashreplace``), or a real
   golden line mutated (fields dropped, duplicated, swapped, truncated, replaced by junk: huge and
   negative numbers, 1e400, NaN, far-past/far-future dates, odd addresses, quotes, backslashes, tabs,
   commas) -- ``parse_line`` returns an Event or None, or raises ParseError with a short ``reason``
   code and a detail text. Nothing else may escape.
2. Every Event is well-formed: the invariants of :func:`check_event`, JSON-serialisable without
   NaN/Infinity, and storable (``netwarden.store.events.event_row`` and the bulk writer's rows).
3. Stateful formats (Zeek ``#fields``, CSV headers) are fed the golden file's real header lines first,
   so the mutated data lines reach the column mapping, not just the "no header" check.
4. Parsing is deterministic: fresh parser instances give equal results for the same input.
5. ``guess_format`` raises nothing but UnknownFormat on random input, and recognises every golden file.
6. State carried between lines (caches, learned headers, the syslog year clock) survives a whole golden
   file with lines mutated and repeated.
7. Digits of other scripts ("٢٢", which int() and float() read as 22) are never read as a number.

Profiles are derandomised and database-less, so CI runs the same examples every time.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from netwarden.parse import ParseContext, ParseError, UnknownFormat, guess_format, parsers
from netwarden.parse._messages import message_parsers
from netwarden.records import Event
from netwarden.store.events import EventWriter, event_row

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"

CONTRACT = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(CONTRACT, max_examples=60)  # for the costly ones: 100 KB lines, whole files

REASON = re.compile(r"[a-z_]{1,32}")
MAX_COUNTER = 2**63 - 1
PORT_FIELDS = ("src_port", "dst_port")
COUNTER_FIELDS = ("bytes_out", "bytes_in", "packets_out", "packets_in")
TEXT_FIELDS = ("observer", "transport", "app_protocol", "tcp_flags", "action", "http_method", "url",
               "user_agent", "user", "outcome", "message", "raw", "label")
# the far ends of the zones a context may name: timestamps near year 1 or 9999 overflow there
ZONES = (timezone.utc, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12"), ZoneInfo("Europe/Berlin"))
WRITERS = (EventWriter(sqlite.dialect()), EventWriter(postgresql.dialect()))


# --- golden files ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Golden:
    """One golden file: the parser it feeds, its context, and its input lines in order."""

    parser: str
    context: dict
    lines: tuple[str, ...]
    headers: tuple[bool, ...]  # lines annotated as (or left unannotated, i.e.) headers: no event
    events: tuple[int, ...]  # indexes of the lines annotated with an expected event

    def prefix(self, index: int) -> list[str]:
        """The header lines before line ``index``: what puts a parser into that line's state."""
        return [line for line, is_header in zip(self.lines[:index], self.headers) if is_header]


def _golden_targets() -> dict[str, str]:
    """Golden file stem -> parser name, for every parser and message parser."""
    targets = {name: name for name in parsers()}
    targets.update({f"syslog.{name}": "syslog" for name in message_parsers()})
    return dict(sorted(targets.items()))


TARGETS = _golden_targets()


@cache
def golden(stem: str) -> Golden:
    text = (GOLDEN / f"{stem}.log").read_text(encoding="utf-8")
    raw_lines = text.split("\n")
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    context: dict = {}
    lines: list[str] = []
    headers: list[bool] = []
    events: list[int] = []
    pending: str | None = None
    for line in raw_lines:
        if line.startswith("#:"):
            continue
        if line.startswith("#= context "):
            context = json.loads(line[len("#= context "):])
            continue
        if line.startswith("#="):
            pending = line[2:].strip()
            continue
        if pending is not None and pending.startswith("{"):
            events.append(len(lines))
        lines.append(line)
        headers.append(pending is None or pending == "header")
        pending = None
    return Golden(TARGETS[stem], context, tuple(lines), tuple(headers), tuple(events))


def make_context(spec: dict, zone=None) -> ParseContext:  # type: ignore[no-untyped-def]
    ctx = ParseContext(source="contract")
    ctx.reference_time = datetime.fromisoformat(
        spec.get("reference_time", "2026-06-01T00:00:00Z").replace("Z", "+00:00"))
    ctx.local_tz = zone if zone is not None else ZoneInfo(spec.get("local_tz", "UTC"))
    ctx.observer = spec.get("observer")
    return ctx


# --- the contract ------------------------------------------------------------------------------------

def check_parse_error(exc: ParseError) -> None:
    assert isinstance(exc.reason, str) and REASON.fullmatch(exc.reason), f"bad reason code {exc.reason!r}"
    assert isinstance(exc.detail, str) and exc.detail, f"ParseError {exc.reason!r} without a detail"


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_event(event: object) -> None:
    """Everything a stored event may rely on."""
    assert isinstance(event, Event), f"parse_line returned {type(event).__name__}"
    assert isinstance(event.source_kind, str) and 1 <= len(event.source_kind) <= 16, event.source_kind
    ts = event.timestamp
    if ts is not None:
        # the real rule (fields.py): aware and in UTC. epoch() keeps Unix times to 1970..3000, but ISO and
        # access-log times may be any date a datetime holds (year 1..9999) once converted to UTC.
        assert isinstance(ts, datetime), ts
        assert ts.tzinfo is not None and ts.utcoffset() == timedelta(0), f"timestamp not in UTC: {ts!r}"
    for name in ("src_ip", "dst_ip"):
        value = getattr(event, name)
        if value is not None:
            addr = ipaddress.ip_address(value)
            assert str(addr) == value, f"{name} {value!r} is not canonical ({addr})"
            assert not (isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped), f"{name} {value!r}"
    for name in PORT_FIELDS:
        value = getattr(event, name)
        assert value is None or (_int(value) and 0 <= value <= 65535), f"{name} = {value!r}"
    for name in COUNTER_FIELDS:
        value = getattr(event, name)
        assert value is None or (_int(value) and 0 <= value <= MAX_COUNTER), f"{name} = {value!r}"
    d = event.duration
    assert d is None or (isinstance(d, (int, float)) and not isinstance(d, bool) and math.isfinite(d)
                         and d >= 0), f"duration = {d!r}"
    s = event.http_status
    assert s is None or (_int(s) and 100 <= s <= 999), f"http_status = {s!r}"
    for name in TEXT_FIELDS:
        value = getattr(event, name)
        assert value is None or isinstance(value, str), f"{name} = {value!r}"
    assert isinstance(event.extra, dict)
    json.dumps(event.to_dict(), allow_nan=False)  # no NaN/Infinity, nothing JSON cannot hold
    row = event_row(event, source_id=1, line_no=1)
    assert row["source_kind"] == str(event.source_kind)
    for writer in WRITERS:
        writer.rows([event], 1, [1])


def outcome(parser, line: str):  # type: ignore[no-untyped-def]
    """``("event", dict)``, ``("none", None)`` or ``("error", reason)``, checking the contract on the way."""
    try:
        event = parser.parse_line(line)
    except ParseError as exc:
        check_parse_error(exc)
        return ("error", exc.reason)
    if event is None:
        return ("none", None)
    check_event(event)
    return ("event", event.to_dict())


def run(cls, lines: list[str], context: ParseContext) -> list:  # type: ignore[no-untyped-def]
    parser = cls(context)
    return [outcome(parser, line) for line in lines]


def run_twice(cls, lines: list[str], spec: dict | None = None, zone=None) -> list:  # type: ignore[no-untyped-def]
    """Parse ``lines`` with two fresh instances; both runs must agree (determinism)."""
    spec = spec or {}
    first = run(cls, lines, make_context(spec, zone))
    second = run(cls, lines, make_context(spec, zone))
    assert first == second, "two fresh parsers disagree on the same input"
    return first


# --- strategies --------------------------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
NASTY_TEXT = st.text(st.sampled_from(list(" \t\r\n\x00\x0b\x0c\x1b\x7f\x85\xa0\u2028\u2029\ufeff\ufffd"
                                          "\"'\\,;:|=[](){}<>-+./#%0123456789٢²eExXaZ")), max_size=200)
LONG_TEXT = st.builds(lambda chunk, n: (chunk * n)[:100_000],
                      st.text(min_size=1, max_size=50), st.integers(1, 100_000))
BYTES_LINE = st.binary(max_size=400).map(lambda b: b.decode("utf-8", "backslashreplace"))

JUNK = (
    "", "-", "--", " ", "null", "None", "(empty)", "true", "{}", "[]", '""', "NaN", "nan", "-nan", "inf", "-inf",
    "Infinity", "-Infinity", "1e400", "-1e400", "1e308", "1e-400", "-1", "-0", "0", "00", "1.5", "-1.5",
    "12.0", "65535", "65536", "-65536", "99999", "4294967296", str(2**63 - 1), str(2**63), str(2**64),
    "9" * 30, "9" * 400, "1" + "0" * 5000, "0x", "0x0", "0x0008", "0xFFFF", "0x10000", "0xFFFFFFFFFFFFFFFF",
    "٢٢", "١٢٣٤", "²", "1_000", "+5", " 7 ", "0b101", "0o17", "1,5",
    "999.1.1.1", "1.2.3", "256.0.0.0", "0.0.0.0", "255.255.255.255", "::", "::1", "::ffff:10.0.0.1",
    "::ffff:999.1.1.1", "::FFFF:192.0.2.1", "[2001:db8::1]", "2001:DB8:0:0::1", "fe80::1%eth0", "fe80::1%",
    "1::2::3", "2001:db8::1:80", "[::1]:22", "10.0.0.1:80", "aa:bb:cc:dd:ee:ff", "localhost", "ex-ample.org",
    "01/Jan/0001:00:30:00 +0100", "31/Dec/9999:23:59:59 -1400", "31/Dec/9999:23:59:59 -0100",
    "29/Feb/2023:00:00:00 +0000", "32/Jan/2020:00:00:00 +0000", "01/Foo/2020:25:61:61 +9999",
    "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59",
    "1969-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2020-02-30T00:00:00Z",
    "0001/01/01 00:00:00", "9999/12/31 23:59:59.999999999", "01/01/0001 00:00", "31/12/9999 11:59:59 PM",
    "13/13/2020 13:00 PM", "0/0/0 0:00", "-62135596800", "253402300800", "32503680000", "1e11", "1e12",
    "Feb 29 00:00:00", "Jan 00 00:00:00", "Dec 32 24:60:60", "<999>", "<191>", "<0>1",
    "\x00", "\t", "\r", "\\", '\\"', '"', "'", "{", "}", "[", "]", ",", ";", "|", "=", ":", "#", "#fields",
    "\ufeff", "\u202e", "\ud7ff", "\U0010ffff", "é", "ÿ" * 300, "A" * 70, "x" * 9000,
)
INSERTS = ('"', "\\", "\t", ",", " ", "\\\"", "'", "\x00", "\r", "[", "]", "{", "}", ":", "=", "->", "%", "\\x22",
           "\\x09", "٢", "\ufeff")
_TOKENS = re.compile(r'([\t ,;|:=\[\]{}()"<>/]+)')
_DIGITS = re.compile(r"[0-9]+")
_YEAR = re.compile(r"(?<![0-9])(?:19|20)[0-9]{2}(?![0-9])")
_ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@st.composite
def mutated(draw, line: str) -> str:  # type: ignore[no-untyped-def]
    """A golden line with one to three mutations."""
    for _ in range(draw(st.sampled_from((1, 1, 1, 2, 3)))):
        parts = _TOKENS.split(line)  # tokens at even, separators at odd positions
        tokens = list(range(0, len(parts), 2))
        op = draw(st.sampled_from(("drop", "dup", "swap", "truncate", "junk", "insert", "number", "arabic",
                                   "year", "sep", "json", "json")))
        if op == "json":
            line = draw(json_mutated(line))
            continue
        i = draw(st.sampled_from(tokens))
        if op == "drop":
            del parts[i: i + 2]
        elif op == "dup":
            parts[i:i] = parts[i: i + 2] if i + 1 < len(parts) else [parts[i], parts[i - 1] if i else ","]
        elif op == "swap":
            j = draw(st.sampled_from(tokens))
            parts[i], parts[j] = parts[j], parts[i]
        elif op == "truncate":
            line = line[: draw(st.integers(0, len(line)))]
            continue
        elif op == "junk":
            parts[i] = draw(st.sampled_from(JUNK) | ANY_TEXT.filter(lambda s: len(s) < 20))
        elif op == "insert":
            pos = draw(st.integers(0, len(line)))
            line = line[:pos] + draw(st.sampled_from(INSERTS)) + line[pos:]
            continue
        elif op == "number":  # a digit run becomes huge, negative, fractional or not finite
            runs = list(_DIGITS.finditer(line))
            if runs:
                m = draw(st.sampled_from(runs))
                new = draw(st.sampled_from(("9" * 25, "-" + m.group(), m.group() + ".5", "1e400", "NaN",
                                            str(2**63), "0", "-1", m.group() * 3)))
                line = line[: m.start()] + new + line[m.end():]
            continue
        elif op == "arabic":  # the same digits in Arabic-Indic: int() would read them, a log never has them
            parts[i] = parts[i].translate(_ARABIC)
        elif op == "year":  # far past/future dates
            runs = list(_YEAR.finditer(line))
            if runs:
                m = draw(st.sampled_from(runs))
                new = draw(st.sampled_from(("0001", "0000", "1969", "1970", "2200", "3000", "9999")))
                line = line[: m.start()] + new + line[m.end():]
            continue
        elif op == "sep" and i + 1 < len(parts):
            parts[i + 1] = draw(st.sampled_from(("", " ", "\t", ",", ", ", ",,", '","', "  ", "\t\t", "=", ":")))
        line = "".join(parts)
    return line


JSON_JUNK = (st.sampled_from((None, True, False, 0, -1, 1.5, -0.0, 2**63, 2**64, -(2**63), 10**30, 1e308,
                             math.inf, -math.inf, math.nan, "", "-", "NaN", "1e400", "٢٢", "999.1.1.1",
                             "::ffff:10.0.0.1", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-05:00",
                             "9999-12-31T23:59:59.999999Z", "1969-12-31T23:59:59Z", [], {}, [None], {"": {}}))
             | st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=3),
                            max_leaves=6))


@st.composite
def json_mutated(draw, line: str) -> str:  # type: ignore[no-untyped-def]
    """A JSON line with one value (at any depth) replaced, or one key dropped; other lines unchanged."""
    start = line.find("{")
    try:
        value = json.loads(line[start:]) if start >= 0 else None
    except ValueError:
        return line
    if not isinstance(value, dict) or not value:
        return line
    node = value
    while True:
        key = draw(st.sampled_from(sorted(node)))
        if isinstance(node[key], dict) and node[key] and draw(st.booleans()):
            node = node[key]
            continue
        if draw(st.integers(0, 5)):
            node[key] = draw(JSON_JUNK)
        else:
            del node[key]
        break
    return line[:start] + json.dumps(value)  # NaN and Infinity as Python writes them: json.loads reads them


@st.composite
def golden_case(draw, stem: str):  # type: ignore[no-untyped-def]
    """(spec, zone, lines): the header lines before a golden line, that line mutated, and the next line."""
    g = golden(stem)
    # mostly lines that make events (their fields reach the checks), sometimes headers and bad lines
    index = draw(st.sampled_from(g.events) if draw(st.integers(0, 4)) else st.integers(0, len(g.lines) - 1))
    lines = g.prefix(index) + [draw(mutated(g.lines[index]))]
    following = next((line for line, header in zip(g.lines[index + 1:], g.headers[index + 1:]) if not header),
                     None)
    if following is not None:  # a mutated header must leave the parser usable for the next line
        lines.append(following)
    zone = draw(st.sampled_from((None, *ZONES)))
    return g.context, zone, lines


# --- 1, 2 and 4: random input to every parser --------------------------------------------------------

PARSER_NAMES = sorted(parsers())


@pytest.mark.parametrize("name", PARSER_NAMES)
@CONTRACT
@given(line=ANY_TEXT | NASTY_TEXT | BYTES_LINE, zone=st.sampled_from(ZONES))
@example(line="1.2.3.4 - - [01/Jan/0001:00:30:00 +0100] \"GET / HTTP/1.1\" 200 5", zone=timezone.utc)
@example(line="\x00", zone=timezone.utc)
@example(line="{\"timestamp\": 1e400}", zone=timezone.utc)
def test_random_lines(name: str, line: str, zone) -> None:  # type: ignore[no-untyped-def]
    run_twice(parsers()[name], [line], zone=zone)


@pytest.mark.parametrize("name", PARSER_NAMES)
@FEW
@given(line=LONG_TEXT)
def test_very_long_lines(name: str, line: str) -> None:
    run_twice(parsers()[name], [line])


# --- 1-4: mutated golden lines, behind the real headers ----------------------------------------------

@pytest.mark.parametrize("stem", sorted(TARGETS))
@CONTRACT
@given(data=st.data())
def test_mutated_golden_lines(stem: str, data: st.DataObject) -> None:
    spec, zone, lines = data.draw(golden_case(stem))
    run_twice(parsers()[golden(stem).parser], lines, spec, zone)


@pytest.mark.parametrize("stem", sorted(TARGETS))
@FEW
@given(data=st.data())
def test_golden_streams_with_mutated_lines(stem: str, data: st.DataObject) -> None:
    """A whole golden file through one parser, some lines mutated or repeated: caches, learned headers and
    the syslog year clock carry state from line to line, and must survive any of them."""
    g = golden(stem)
    lines: list[str] = []
    for line in g.lines:
        roll = data.draw(st.integers(0, 9))
        if roll < 3:
            line = data.draw(mutated(line))
        lines.append(line)
        if roll == 9:
            lines.append(data.draw(mutated(line)))  # a neighbour from the same second, day or header
    run_twice(parsers()[g.parser], lines, g.context, data.draw(st.sampled_from((None, *ZONES))))


def _comparable(result: tuple, line: str) -> tuple:
    """An outcome without ``raw`` when that is just the input line (it always differs, saying nothing)."""
    kind, value = result
    if kind == "event" and value.get("raw") == line:
        value = {k: v for k, v in value.items() if k != "raw"}
    return kind, value


@pytest.mark.parametrize("stem", sorted(TARGETS))
@CONTRACT
@given(data=st.data())
def test_non_ascii_digits_are_never_read_as_numbers(stem: str, data: st.DataObject) -> None:
    """A number written in other digits (Arabic-Indic "٢٢") is no log's number, yet int() and float() read it.
    So a line with one digit run transliterated must not give the event of the original line: it is either
    quarantined or the text is kept as text (a URL, a message). Digit runs the parser ignores altogether
    (an unmapped JSON string, a column it does not use) are skipped: letters there change nothing either."""
    g = golden(stem)
    index = data.draw(st.sampled_from([i for i in g.events if _DIGITS.search(g.lines[i])]))
    line = g.lines[index]
    m = data.draw(st.sampled_from(list(_DIGITS.finditer(line))))
    cls, before = parsers()[g.parser], g.prefix(index)

    def parse(text: str) -> tuple:
        return _comparable(run_twice(cls, before + [text], g.context)[-1], text)

    original = parse(line)
    assert original[0] == "event"
    if parse(line[: m.start()] + "z" * len(m.group()) + line[m.end():]) == original:
        return  # the parser does not look at these digits
    changed = line[: m.start()] + m.group().translate(_ARABIC) + line[m.end():]
    assert parse(changed) != original, f"{changed!r} read like {line!r}"


# Regressions found by the properties above (and the known ones): (format, lines, reason for the last line).
NSL = ("0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,"
       "0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20")
UNSW = ("1,0.000011,udp,-,INT,2,0,496,0,90909.0902,254,0,180363632,0,0,0,0.011,0,0,0,0,0,0,0,0,0,0,248,0,0,0,2,2,1,1,"
        "1,2,0,0,0,1,2,0,Normal,0")
ARGUS_HEADER = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label"
CIC_HEADER = "Destination Port, Flow Duration, Total Fwd Packets, Label"
REGRESSIONS = [
    # access_log._parse_time: astimezone() overflowed for a date near year 1 east of UTC (and 9999 west)
    ("access_log", ['1.2.3.4 - - [01/Jan/0001:00:30:00 +0100] "GET / HTTP/1.1" 200 5'], "bad_timestamp"),
    ("access_log", ['1.2.3.4 - - [31/Dec/9999:23:59:59 -0100] "GET / HTTP/1.1" 200 5'], "bad_timestamp"),
    # ... and its same-day fast path made year 10000 (ValueError) once that day was cached
    ("access_log", ['1.2.3.4 - - [31/Dec/9999:00:00:01 -0100] "GET / HTTP/1.1" 200 5',
                    '1.2.3.4 - - [31/Dec/9999:23:30:00 -0100] "GET / HTTP/1.1" 200 5'], "bad_timestamp"),
    # NaN/Infinity in an event: json.loads reads 1e400 as inf without asking parse_constant
    ("netwarden", ['{"source_kind": "flow_csv", "extra": {"Flow Duration": 1e400}}'], "bad_json"),
    ("netwarden", ['{"source_kind": "flow_csv", "extra": {"rate": [-1e999]}}'], "bad_json"),
    # non-ASCII digits: int() and float() read them, so regexes, fields helpers and fast paths must not
    ("access_log", ['1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" ٢٠٠ 5'], "no_match"),
    ("access_log", ['1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 ٢٢'], "no_match"),
    ("access_log", ['1.2.3.4 - - [١٧/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5'], "bad_timestamp"),
    ("argus_binetflow", [ARGUS_HEADER, "٢٠١٩/04/04 16:24:47.672448,63.8,tcp,10.8.0.69,56101,->,14.1.11.113,"
                                       "999,S0,0,0,31,8764,1887,"], "bad_timestamp"),
    ("argus_binetflow", [ARGUS_HEADER, "2019/04/04 16:24:47,63.8,tcp,10.8.0.69,٥٦١٠١,->,14.1.11.113,"
                                       "999,S0,0,0,31,8764,1887,"], "bad_port"),
    ("argus_binetflow", [ARGUS_HEADER, "2019/04/04 16:24:47,63.8,tcp,10.8.0.69,56101,->,14.1.11.113,"
                                       "999,S0,0,0,٣١,8764,1887,"], "bad_number"),
    ("nsl_kdd", ["٠" + NSL[1:]], "bad_number"),
    ("unsw_nb15", ["١" + UNSW[1:]], "bad_number"),
    ("unsw_nb15", ["1_0" + UNSW[1:]], "bad_number"),
    ("cicflowmeter", [CIC_HEADER, "٥٤٨٦٥,3,2,BENIGN"], "bad_number"),
    ("zeek_conn", ["#fields\tts\tid.orig_h\tid.orig_p\torig_bytes", "1.5\t10.0.0.1\t٢٢\t1"], "bad_port"),
    ("zeek_conn", ["#fields\tts\tid.orig_h\tid.orig_p\torig_bytes", "1.5\t10.0.0.1\t22\t١"], "bad_number"),
    ("zeek_conn", ["#fields\tts\tid.orig_h\tid.orig_p\torig_bytes", "١.5\t10.0.0.1\t22\t1"], "bad_timestamp"),
    # a JSON float count or port with a fraction was truncated by int(): 1.5 bytes became 1
    ("zeek_conn", ['{"ts": 1.5, "id.orig_h": "10.0.0.1", "orig_bytes": 1.5}'], "bad_number"),
    ("zeek_conn", ['{"ts": 1.5, "id.orig_h": "10.0.0.1", "id.orig_p": 22.5}'], "bad_port"),
    ("suricata_eve", ['{"timestamp": "2021-06-06T15:59:46Z", "event_type": "flow", "flow": {"bytes_toserver": 2.5}}'],
     "bad_number"),
    ("suricata_eve", ['{"timestamp": "2021-06-06T15:59:46Z", "event_type": "http", "http": {"status": 200.5}}'],
     "bad_number"),
]


@pytest.mark.parametrize(("name", "lines", "reason"), REGRESSIONS)
def test_regressions(name: str, lines: list[str], reason: str) -> None:
    for zone in ZONES:
        parser = parsers()[name](make_context({}, zone))
        for line in lines[:-1]:
            outcome(parser, line)
        with pytest.raises(ParseError) as info:
            parser.parse_line(lines[-1])
        assert info.value.reason == reason, info.value


def test_a_syslog_procid_in_other_digits_is_no_pid() -> None:
    event = parsers()["syslog"]().parse_line("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc ٨٧١٠ - - hi")
    check_event(event)
    assert "pid" not in event.extra and event.extra["procid"] == "٨٧١٠"


def test_field_helpers_take_ascii_whole_numbers_only() -> None:
    from netwarden.parse import fields

    assert (fields.port("22"), fields.port("0x0008"), fields.port(80), fields.port(80.0)) == (22, 8, 80, 80)
    assert (fields.counter("12"), fields.counter("12.0"), fields.counter(12), fields.counter(12.0)) == (12, 12, 12, 12)
    assert fields.seconds("0.5") == 0.5 and fields.epoch("1.5") is not None
    for bad in ("٢٢", "²", "+22", " 22", "2_2", "0x", "0x_1", "0x٢", "1e1", "22.5", 22.5, True, math.nan, "9" * 5000):
        with pytest.raises(ParseError):
            fields.port(bad)
    for bad in ("٢٢", "+5", "1_0", "1e3", "1.5", 1.5, -1, True, math.inf, math.nan, str(2**63), "9" * 5000):
        with pytest.raises(ParseError):
            fields.counter(bad)
    for bad in ("١.٥", "1_0", "nan", "inf", "1e400", 10**400, -1):
        with pytest.raises(ParseError):
            fields.seconds(bad)
        with pytest.raises(ParseError):
            fields.epoch(bad)


# --- 5: guess_format -----------------------------------------------------------------------------------

@CONTRACT
@given(lines=st.lists(ANY_TEXT | NASTY_TEXT | BYTES_LINE, max_size=8))
def test_guess_format_on_random_input(lines: list[str]) -> None:
    try:
        cls = guess_format(lines)
    except UnknownFormat:
        return
    assert cls.name in parsers()


@pytest.mark.parametrize("stem", sorted(TARGETS))
def test_guess_format_recognises_each_golden_file(stem: str) -> None:
    g = golden(stem)
    assert guess_format(list(g.lines)).name == g.parser


@pytest.mark.parametrize("stem", sorted(TARGETS))
@FEW
@given(data=st.data())
def test_guess_format_on_mutated_golden_input(stem: str, data: st.DataObject) -> None:
    g = golden(stem)
    lines = [data.draw(mutated(line)) if data.draw(st.booleans()) else line for line in g.lines[:12]]
    try:
        guess_format(lines)
    except UnknownFormat:
        pass
