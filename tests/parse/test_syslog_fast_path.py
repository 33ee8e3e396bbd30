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
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
           line.replace("Dec", "Dek", 1), line.replace("Jun", "jun", 1), line.replace("1", "\u0661", 1),
           # around the remembered header (Syslog._heads): the same text after the stamp, with a stamp, the space
           # after it or the message's start that _USUAL reads otherwise, or a line feed it does not take
           line[:15] + "  " + line[16:], line[:15] + "x" + line[16:], line[:4] + line[5:], line[:14] + "7 " + line[16:],
           line[:4] + "1" + line[5:], "Jan 1" + line[6:], line[:7] + "0" + line[8:], line[:9] + "x" + line[10:],
           head + ":\n" + rest, head + ": " + rest + "\n ", head + ": \t" + rest, line.replace(" LabSZ ", " LabSZ: ", 1),
           line.replace(" LabSZ ", " a:b ", 1), line.replace(" LabSZ ", " LabSZ  ", 1), line.replace("]: ", "]:: ", 1),
           line.replace("[", "[0", 1), line.replace("[", "[12345678901", 1)]
    if rest:
        cut = rng.randrange(len(rest) + 1)
        out += [head + ": " + rest[:cut], head + ": error: " + rest, head + ": fatal: " + rest,
                head + ": message repeated 3 times: [ " + rest + "]", head + ": " + rest + " [preauth]",
                head + ": " + rest[cut:] + rest[:cut], head + ": " + rest.lower(), head + ": " + rest.upper(),
                head + ": 3 " + rest, head + ": " + rng.choice("0aAzZ ([-") + rest]
    out += _port_variants(line, rng)
    out += _address_variants(line, rng)
    return out


_LAST_IPV4 = re.compile(r".*(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")


def _address_variants(line: str, rng: random.Random) -> list[str]:
    """Other IPv4 addresses in place of the line's last one (a message read before with another address is
    answered from ``sshd._SEEN_SHAPES``), with other ports too, and addresses that are none or not as sshd
    writes them (out of range, leading zeros, five parts), or that touch the text around them."""
    found = _LAST_IPV4.match(line)
    if found is None:
        return []
    head, tail = line[:found.start(1)], line[found.end(1):]
    others = ["1.2.3.4", "255.255.255.255", "0.0.0.0", f"10.{rng.randrange(256)}.{rng.randrange(256)}.1",
              "256.1.1.1", "01.2.3.4", "1.2.3.4.5", "1.2.3", "1.2.3.4x", "x1.2.3.4", "1.2.3.4:22", "::ffff:1.2.3.4",
              "2001:db8::1", "host.example", found.group(1) + "0", "1.2.3.4 from 5.6.7.8"]
    out = [head + other + tail for other in others]
    return out + [p for other in ("192.0.2.9", "09.1.1.1") for p in _port_variants(head + other + tail, rng)]


_DIGITS = re.compile(r"\d+")


def _port_variants(line: str, rng: random.Random) -> list[str]:
    """Other ports in the line's last " port N" (a message read before with another port is answered from
    ``sshd._SEEN_PORTS``), ports out of range or too long, a " port N" of the client's own making before the
    real one, and both ports of a line alike (the server's port must not be taken for the client's)."""
    at = line.rfind(" port ")
    run = _DIGITS.match(line, at + 6) if at >= 0 else None
    if run is None:
        return []
    head, tail = line[:at + 6], line[run.end():]
    out = [head + port + tail for port in ("1", "0", "00022", str(rng.randrange(65536)), "65535", "65536",
                                           "99999", "123456", "1234567", "22x", "22 ssh2", "x")]
    out += [head + run.group() + tail + " port 7", line.replace(" from ", " port 3 from ", 1),
            line.replace(" for ", " for x port 9 from 10.1.1.1 port 9 ", 1),
            line.replace(" port ", " port " + run.group() + " on 10.0.0.1 port ", 1)]
    first = line.find(" port ")
    if first != at:  # two ports: the same number in both, then another in the last
        same = line[:first + 6] + _DIGITS.sub(run.group(), line[first + 6:], count=1)
        out += [same, same[:same.rfind(" port ") + 6] + "2222" + tail]
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
    monkeypatch.setattr(sshd, "_SEEN_PORTS", {})  # nor from a message that differed only in its port
    monkeypatch.setattr(sshd, "_SEEN_SHAPES", {})  # or in its address (and port)
    monkeypatch.setattr(sshd, "_SEEN_SHAPES_PORTS", {})
    for cls in message_parsers().values():  # every message parser asked about every message
        monkeypatch.setattr(cls, "claims_program", lambda self, program: None)
        monkeypatch.setattr(cls, "claim_prefixes", lambda self, program: None)
    general = Syslog(ParseContext(source="test", reference_time=reference))
    differ = [(line, have, want) for line, have in zip(lines, got) if have != (want := _outcome(general, line))]
    assert not differ, differ[:3]
    # the comparison covers what matters: most lines took the shortcut, and some of every kind were refused
    assert sum(1 for line in lines if syslog._HEADER.match(line) and not line.startswith("<")) > 50_000
    assert sum(1 for o in got if isinstance(o, tuple) and o[0] == "quarantine") > 1000


def test_a_message_read_with_another_port_gives_what_reading_it_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sshd._SEEN_PORTS`` answers for messages that differ only in the client's port, and only when the
    rule's port is that run of digits: never for the server's port, a port of the user name's making, or a
    port out of range."""
    monkeypatch.setattr(sshd, "_SEEN", {})
    monkeypatch.setattr(sshd, "_SEEN_PORTS", {})
    parser = Syslog(ParseContext(source="test", reference_time=datetime(2016, 1, 15, tzinfo=timezone.utc)))
    head = "Dec 10 06:55:46 LabSZ sshd[24200]: "
    parse = lambda message: parser.parse_line(head + message)  # noqa: E731
    first = parse("Failed password for root from 203.0.113.7 port 1022 ssh2")
    again = parse("Failed password for root from 203.0.113.7 port 4711 ssh2")
    assert (first.src_port, again.src_port, again.user, again.src_ip) == (1022, 4711, "root", "203.0.113.7")
    assert len(sshd._SEEN_PORTS) == 1 and again.extra == first.extra
    assert parse("Failed password for root from 203.0.113.7 port 65536 ssh2").src_port is None  # read: dropped
    parse("Connection from 203.0.113.7 port 22 on 192.0.2.1 port 22")  # both ports alike: not kept by port
    other = parse("Connection from 203.0.113.7 port 22 on 192.0.2.1 port 2222")
    assert (other.src_port, other.dst_port) == (22, 2222)
    parse("Invalid user a port 5 from 203.0.113.7")  # no port of sshd's: not kept by port
    assert parse("Invalid user a port 6 from 203.0.113.7").user == "a port 6"
    # a user name that names another address, repeated from new client ports: answered from the memo, it still
    # frames nobody (the address is the one that really connected, the name keeps its text)
    forged = "Failed password for invalid user x from 8.8.8.8 port 22 from 198.51.100.4 port {} ssh2"
    answers = [parse(forged.format(p)) for p in (40001, 40002, 40003)]
    assert [(e.src_ip, e.src_port, e.user) for e in answers] == [
        ("198.51.100.4", p, "x from 8.8.8.8 port 22") for p in (40001, 40002, 40003)]
    assert any(k.startswith("Failed password for invalid user x from 8.8.8.8 port 22 from") for k in sshd._SEEN_PORTS)


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


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Callable[[str], Any]]:
    """sshd's memos emptied, and every full read of a message counted: (messages read, parse of one message)."""
    for memo in ("_SEEN", "_SEEN_PORTS", "_SEEN_SHAPES", "_SEEN_SHAPES_PORTS", "_SHAPES_ONCE"):
        monkeypatch.setattr(sshd, memo, {})
    reads: list[str] = []
    read = sshd.Sshd._read
    monkeypatch.setattr(sshd.Sshd, "_read", lambda self, event, message: reads.append(message) or read(
        self, event, message))
    parser = Syslog(ParseContext(source="test", reference_time=datetime(2016, 1, 15, tzinfo=timezone.utc)))
    return reads, lambda message: parser.parse_line("Dec 10 06:55:46 LabSZ sshd[24200]: " + message)


def test_a_message_read_with_another_address_gives_what_reading_it_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sshd._SEEN_SHAPES`` answers for messages that differ only in the client's IPv4 address (and port): read
    once per shape, not once per address; never when the last address is not the source, or is not written as
    reading it would store it."""
    reads, parse = _counting_reads(monkeypatch)
    first = parse("Failed password for invalid user admin from 203.0.113.7 port 1022 ssh2")
    assert len(reads) == 1  # a shape seen once is not checked yet
    parse("Failed password for invalid user admin from 203.0.113.9 port 1023 ssh2")
    read_first = len(reads)  # the message and, its shape come again, its probes
    assert read_first == 4
    again = parse("Failed password for invalid user admin from 198.51.100.42 port 4711 ssh2")
    assert len(reads) == read_first  # answered from the shape
    assert (again.src_ip, again.src_port, again.user, again.outcome) == ("198.51.100.42", 4711, "admin", "failure")
    assert again.extra == first.extra
    pam = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={}  user=root"
    parse(pam.format("203.0.113.7"))
    parse(pam.format("203.0.113.8"))
    read_pam = len(reads)
    assert (parse(pam.format("192.0.2.1")).src_ip, len(reads)) == ("192.0.2.1", read_pam)
    # not an address as sshd writes it: read anew, and refused as reading refuses it
    for address in ("01.2.3.4", "300.1.1.1"):
        with pytest.raises(ParseError):
            parse(f"Failed password for invalid user admin from {address} port 4711 ssh2")
    # the last address is the user's, not the source: never kept by shape, every address read anew
    forged = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.0.0.1  user={}"
    answers = [parse(forged.format(a)) for a in ("10.0.0.1", "10.0.0.2", "10.0.0.3")]
    assert [(e.src_ip, e.user) for e in answers] == [("10.0.0.1", a) for a in ("10.0.0.1", "10.0.0.2", "10.0.0.3")]
    assert len(sshd._SEEN_SHAPES) + len(sshd._SEEN_SHAPES_PORTS) == 2


def test_a_dictionary_attack_costs_no_probe_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A guesser with a new user name on every line makes a new shape every line: each is read once, and checked
    with probes only when it comes again (the probes would double the attack's parsing cost for nothing)."""
    reads, parse = _counting_reads(monkeypatch)
    events = [parse(f"Invalid user guess{n} from 203.0.113.{n % 200} port {1000 + n}")
              for n in range(300)]
    assert len(reads) == 300  # one read per line, no probes
    assert [(e.user, e.src_ip, e.src_port) for e in events[:2]] == [("guess0", "203.0.113.0", 1000),
                                                                     ("guess1", "203.0.113.1", 1001)]


def test_remembered_headers_stay_small_whatever_the_lines() -> None:
    """A header padded with spaces (``host<60,000 spaces>sshd[1]: ..``, as long as a line may be) parses as
    _USUAL reads it, but is not kept: 4,096 of them per parser (one per device of a syslog stream) would be
    hundreds of MB. What real headers are (a host of at most 255, a program of 128, a pid) is kept."""
    parser = Syslog(ParseContext(source="test", reference_time=datetime(2016, 1, 15, tzinfo=timezone.utc)))
    for i in range(50):
        line = f"Jan  1 00:00:{i:02d} host" + " " * 60_000 + f"sshd[{i}]: Failed password for root from 1.2.3.4"
        event = parser.parse_line(line)
        assert event is not None and event.extra["pid"] == i and event.extra["program"] == "sshd"
        assert parser.parse_line(line).extra == event.extra  # again: from the general match, the same
    long_host = "h" * 255
    line = f"Jan  1 00:01:00 {long_host} {'p' * 128}[1234567890]: x"
    assert parser.parse_line(line).extra == {"host": long_host, "program": "p" * 128, "pid": 1234567890}
    assert max(map(len, parser._heads)) == len(line) - 16 - 3


def test_the_memos_hold_short_ascii_messages_within_their_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anyone who can reach the syslog listener writes what the memos keep: only ASCII messages of at most
    ``_SEEN_LENGTH`` characters are remembered (long user names, 4-byte characters: read each time, and read the
    same), and each memo is forgotten when full, the shape memos at their own, lower bound."""
    reads, parse = _counting_reads(monkeypatch)
    monkeypatch.setattr(sshd, "_SEEN_MESSAGES", 40)
    monkeypatch.setattr(sshd, "_SHAPES_KEPT", 10)
    for i in range(200):
        for user in (f"u{i}", "x" * 300 + str(i), f"\U0001f600{i}"):
            for address in ("203.0.113.9", "198.51.100.7"):
                for _ in range(2):
                    event = parse(f"Invalid user {user} from {address} port {40000 + i}")
                    assert (event.src_ip, event.src_port) == (address, 40000 + i) and event.user
                    assert event.user == user or len(user) > 256
    kept = [*sshd._SEEN, *sshd._SEEN_PORTS, *sshd._SEEN_SHAPES, *sshd._SEEN_SHAPES_PORTS, *sshd._SHAPES_ONCE]
    assert kept and all(key.isascii() and len(key) <= sshd._SEEN_LENGTH for key in kept)
    assert len(sshd._SEEN) <= 40 and len(sshd._SEEN_PORTS) <= 40
    assert all(len(getattr(sshd, m)) <= 10 for m in ("_SEEN_SHAPES", "_SEEN_SHAPES_PORTS", "_SHAPES_ONCE"))
    long_or_wide = [m for m in reads if "x" * 300 in m or "\U0001f600" in m]
    assert len(long_or_wide) == 200 * 2 * 2 * 2  # each read every time it came
