"""Syslog: the header of lines in /var/log/syslog, auth.log, messages, and of what a syslog server receives.

Headers understood (``<PRI>`` optional in the first three)::

    Dec 10 06:55:46 LabSZ sshd[24200]: msg                     RFC 3164 (the year comes from the context)
    Dec 10 2025 06:55:46 host prog: msg                        RFC 3164 with a year
    2026-11-21T10:00:00.123456+01:00 host prog[pid]: msg       rsyslog's high-precision format
    <34>1 2026-11-21T10:00:00.003Z host app procid msgid [sd id="v"] msg    RFC 5424

The host may be missing (some local daemons) and so may the program (RouterOS puts its topics there).
The message then goes to the first message parser that claims it (see ``_messages``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from netwarden.parse import fields
from netwarden.parse._messages import MessageParser, message_parsers
from netwarden.parse.base import ParseContext, ParseError, Parser, register
from netwarden.records import EVENT_FIELDS, Event, SourceKind

FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
              "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
              "local4", "local5", "local6", "local7")
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_PRI = r"(?:<(?P<pri>\d{1,3})>)?"
_BSD_TIME = (r"(?P<mon>[A-Za-z]{3}) {1,2}(?P<day>\d{1,2}) (?:(?P<year>\d{4}) )?"
             r"(?P<hh>\d{2}):(?P<mi>\d{2}):(?P<ss>\d{2})(?:\.(?P<frac>\d{1,6}))?")
_ISO_TIME = r"(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:?\d{2})?)"
_HEADER = re.compile(rf"^{_PRI}(?:{_BSD_TIME}|{_ISO_TIME}) +(?P<rest>.*)$", re.ASCII)  # no exotic digits
# host, then program[pid]: -- the host is optional, the program must end in a colon
_PROG = r"(?P<prog>[^\s\[\]:]{1,128})(?:\[(?P<pid>\d{1,10})\])?:(?: +(?P<msg>.*))?$"
_HOST_PROG = re.compile(r"^(?:(?P<host>[^\s\[\]]{1,255}) +)?" + _PROG, re.ASCII)
# The usual auth.log line (no <PRI>, no year, whole seconds, host and program present) in one match: what the
# two above give for it, with the timestamp as one group (lines of one second share it). Anything else takes
# the general path, so this only has to be right when it matches.
_USUAL = re.compile(r"(?P<stamp>[A-Za-z]{3} {1,2}\d{1,2} \d{2}:\d{2}:\d{2}) +(?P<host>[^\s\[\]]{1,255}) +"
                    + _PROG, re.ASCII)
#: a remembered header's longest text (Syslog._remember_head): a host of 255, a space, a program of 128, a pid
_LONGEST_HEAD = 255 + 1 + 128 + 12
_STAMP = re.compile(r"[A-Za-z]{3} {1,2}\d{1,2} \d{2}:\d{2}:\d{2}", re.ASCII)  # _USUAL's stamp (fullmatch)
_HOST_ONLY = re.compile(r"^(?P<host>[^\s\[\]]{1,255})(?: +(?P<msg>.*))?$")
_RFC5424 = re.compile(
    r'^<(?P<pri>\d{1,3})>(?P<ver>\d{1,2}) (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) '
    r'(?P<msgid>\S+) (?P<sd>-|(?:\[(?:[^"\]]|"(?:[^"\\]|\\.)*")*\])+)(?: (?P<msg>.*))?$', re.ASCII)
_SD_ELEMENT = re.compile(r'\[(?P<id>[^\s=\]"]{1,64})(?P<params>(?: [^\s=\]"]{1,64}="(?:[^"\\]|\\.)*")*) *\]')
_SD_PARAM = re.compile(r'([^\s=\]"]{1,64})="((?:[^"\\]|\\.)*)"')
_SD_ESCAPE = re.compile(r'\\(["\\\]])')
_SECONDS = {f"{second:02d}": timedelta(seconds=second) for second in range(60)}  # a stamp's seconds as a step
_LAST_SECOND = timedelta(seconds=59)


def _pri(text: str | None, extra: dict) -> None:
    if text is None:
        return
    value = int(text)
    if value > 191:
        raise ParseError("bad_priority", f"syslog priority <{text}> out of range 0-191")
    extra["facility"] = FACILITIES[value >> 3]
    extra["severity"] = SEVERITIES[value & 7]


def _structured_data(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    pos = 0
    while pos < len(text):
        m = _SD_ELEMENT.match(text, pos)
        if m is None:
            raise ParseError("bad_structured_data", f"unreadable structured data at {text[pos:pos + 40]!r}")
        out[m.group("id")] = {k: _SD_ESCAPE.sub(r"\1", v) for k, v in _SD_PARAM.findall(m.group("params"))}
        pos = m.end()
    return out


if tuple(_USUAL.groupindex) != ("stamp", "host", "prog", "pid", "msg"):
    raise ImportError("syslog._USUAL changed its groups: update Syslog.parse_line")
# the order _event passes Event's fields in
if EVENT_FIELDS != ("timestamp", "source_kind", "observer", "src_ip", "src_port", "dst_ip", "dst_port", "transport",
                    "app_protocol", "bytes_out", "bytes_in", "packets_out", "packets_in", "duration", "tcp_flags",
                    "action", "http_method", "url", "http_status", "user_agent", "user", "outcome", "message", "raw",
                    "label", "extra"):
    raise ImportError("netwarden.records.Event changed its fields: update Syslog._event")


@register
class Syslog(Parser):
    """Syslog lines (RFC 3164, rsyslog ISO, RFC 5424), with message parsers for what they carry."""

    name = "syslog"
    description = "syslog files and streams (RFC 3164, RFC 5424, rsyslog ISO timestamps)"
    example = "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"
    source_kind = SourceKind.SYSLOG

    def __init__(self, context: ParseContext | None = None) -> None:
        super().__init__(context)
        self._clock = fields.YearlessClock(self.context.reference_time, self.context.local_tz)
        self._last_bsd: tuple[str, datetime] | None = None  # lines come in bursts within one second
        # and seconds in runs within one minute (see _next_second): the minute's stamp, the clock's last time in
        # it, its start in local time and in UTC
        self._minute: tuple[str, datetime, datetime, datetime] | None = None
        self._iso_cache: dict[str, datetime] = {}
        self._messages: list[MessageParser] = [cls() for cls in message_parsers().values()]
        self._by_program: dict[str | None, tuple[tuple[MessageParser, bool, tuple[str, ...] | None], ...]] = {}
        self._known_by_program: dict[str | None, tuple[tuple[str, ...], MessageParser] | tuple[()]] = {}
        self._heads: dict[str, tuple[str, str, str | None, dict]] = {}  # see _remember_head

    @classmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        hits = sum(1 for line in lines if _RFC5424.match(line) or _HEADER.match(line))
        return 0.9 * hits / len(lines) if lines else 0.0

    # -- timestamps ----------------------------------------------------------------------------------
    def _bsd_time(self, m: re.Match) -> datetime:
        key = m.string[m.start("mon"): m.end("ss") if m.group("frac") is None else m.end("frac")]
        if self._last_bsd is not None and self._last_bsd[0] == key:
            return self._last_bsd[1]
        month = fields.MONTHS.get(m.group("mon").lower())
        if month is None:
            raise ParseError("bad_timestamp", f"unknown month {m.group('mon')!r}")
        parts = (int(m.group("day")), int(m.group("hh")), int(m.group("mi")), int(m.group("ss")),
                 int(m.group("frac").ljust(6, "0")) if m.group("frac") else 0)
        if m.group("year"):
            try:
                value = fields.aware(datetime(int(m.group("year")), month, *parts), self.context.local_tz)
            except ValueError as exc:
                raise ParseError("bad_timestamp", str(exc)) from None
        else:
            value = self._clock.resolve(month, *parts)
        self._last_bsd = (key, value)
        return value

    def _next_second(self, line: str, stamp: str) -> datetime:
        """The time of a usual line's ``stamp`` (``Jan  1 00:00:02``) that differs from the last line's. In the
        minute the clock resolved last, it is that minute's start plus the seconds: what the clock would give (no
        year can roll over within a minute), for two additions. Only for a minute whose UTC offset is the same
        at its start and end (no change of offset within it) and is not the second pass of a repeated hour."""
        minute = self._minute
        clock = self._clock
        if minute is not None and clock.last is minute[1] and stamp[:-3] == minute[0]:
            step = _SECONDS.get(stamp[-2:])  # None for second 60 and more: the clock's own error follows
            if step is not None:
                local = clock.last = minute[2] + step
                value = minute[3] + step
                self._minute = (minute[0], local, minute[2], minute[3])
                self._last_bsd = (stamp, value)
                return value
        value = self._bsd_time(_HEADER.match(line))  # type: ignore[arg-type]
        last = clock.last
        self._minute = None
        if last is not None and last.fold == 0:
            start = last.replace(second=0, microsecond=0)
            if start.utcoffset() == (start + _LAST_SECOND).utcoffset():
                self._minute = (stamp[:-3], last, start, start.astimezone(timezone.utc))
        return value

    def _iso_time(self, text: str) -> datetime | None:
        cached = self._iso_cache.get(text)
        if cached is None:
            cached = fields.iso_time(text, self.context.local_tz)
            if len(self._iso_cache) > 4096:
                self._iso_cache.clear()
            self._iso_cache[text] = cached  # type: ignore[assignment]
        return cached

    # -- lines ---------------------------------------------------------------------------------------
    def parse_line(self, line: str) -> Event | None:
        line = line.rstrip("\r\n")
        # the usual line whose header (what follows the stamp, up to the first ": ") was read before: sliced, not
        # matched again (a third of the line's cost); _remember_head says when that gives what _USUAL gives
        at = line.find(": ", 16)
        head = self._heads.get(line[16:at]) if at > 16 else None
        if head is not None and (line[15] != " " or line[at + 2:at + 3] == " " or "\n" in line):
            head = None
        if head is not None:
            host, program, pid, base = head
            message = line[at + 2:]
            stamp = line[:15]
            last = self._last_bsd
            if last is not None and last[0] == stamp:
                timestamp = last[1]
            elif _STAMP.fullmatch(stamp):
                timestamp = self._next_second(line, stamp)
            else:
                head = None
        if head is None:
            usual = _USUAL.match(line)
            if usual is None:
                return self._general(line)
            stamp, host, program, pid, message = usual.groups()  # the groups in this order (checked below)
            last = self._last_bsd
            timestamp = last[1] if last is not None and last[0] == stamp else self._next_second(line, stamp)
            base = {"host": host, "program": program, "pid": int(pid)} if pid is not None else \
                {"host": host, "program": program}
            if message is None:
                message = ""
            elif usual.start("msg") == at + 2 and usual.start("host") == 16 and usual.end("stamp") == 15:
                self._remember_head(line[16:at], host, program, pid, base)
        memo = self._known_by_program.get(program)
        if memo is None:
            self._claimers(program)
            memo = self._known_by_program[program]
        # the event of a message the program's parser read before, in one step (what _event does for it)
        if memo and not message.startswith(memo[0]) and (known := memo[1].known(message)) is not None:
            kind, app, transport, outcome, src_ip, src_port, user, dst_ip, dst_port = known[0]
            extra = base | known[1]  # a new dict: the header's fields, then what sshd read (in the order stored)
            return Event(timestamp, kind, self.context.observer or host, src_ip, src_port, dst_ip, dst_port,
                         transport, app, None, None, None, None, None, None, None, None, None, None, None, user,
                         outcome, message if message not in fields.MISSING and len(message) <= 8192 else
                         fields.text(message), line, None, extra)
        return self._event(line, timestamp, host, program, pid, message, {})

    def _remember_head(self, head: str, host: str, program: str, pid: str | None, base: dict) -> None:
        """Keep the groups _USUAL gave for a line whose ``head`` (its text from 16, after a 15-character stamp and
        one space, to the first ": ", after which the message starts) is this. Another line with the same head
        there, a stamp _STAMP takes, one space after it, no second space after the ": " and no line feed, gives
        the same groups: _USUAL's host, program and pid stop at the first space, bracket or colon, so its choices
        are made within the head. ``base``: the header's part of ``extra`` (never changed: copied by ``|``)."""
        if len(head) > _LONGEST_HEAD:  # spaces padding it (attacker's text): 4,096 of them would be GBs
            return
        if len(self._heads) >= 4096:
            self._heads.clear()
        self._heads[head] = (host, program, pid, base)

    def _general(self, line: str) -> Event | None:
        if not line.strip():
            return None
        extra: dict = {}
        if line.startswith("<") and (m5 := _RFC5424.match(line)):
            return self._rfc5424(line, m5, extra)
        m = _HEADER.match(line)
        if m is None:
            raise ParseError("no_match", "not a syslog line (no <PRI>, timestamp and host)")
        _pri(m.group("pri"), extra)
        timestamp = self._iso_time(m.group("iso")) if m.group("iso") else self._bsd_time(m)
        rest = m.group("rest")
        hp = _HOST_PROG.match(rest)
        if hp is not None:
            host, program, pid, message = hp.group("host"), hp.group("prog"), hp.group("pid"), hp.group("msg")
        else:
            ho = _HOST_ONLY.match(rest)
            if ho is None:
                raise ParseError("no_match", "no host or program after the timestamp")
            host, program, pid, message = ho.group("host"), None, None, ho.group("msg")
        return self._event(line, timestamp, host, program, pid, message or "", extra)

    def _rfc5424(self, line: str, m: re.Match, extra: dict) -> Event:
        _pri(m.group("pri"), extra)
        if m.group("ver") != "1":
            raise ParseError("bad_version", f"RFC 5424 version {m.group('ver')} is not 1")
        timestamp = None if m.group("ts") == "-" else self._iso_time(m.group("ts"))
        nil = lambda v: None if v == "-" else v  # noqa: E731 - RFC 5424 writes "-" for absent fields
        procid = nil(m.group("procid"))
        if nil(m.group("msgid")):
            extra["msgid"] = m.group("msgid")
        if m.group("sd") != "-":
            extra["structured_data"] = _structured_data(m.group("sd"))
        message = (m.group("msg") or "").removeprefix("\ufeff")  # UTF-8 messages may start with a BOM
        # isascii: str.isdigit() is true for "٨٧١٠" too, and int() would read it as 8710
        pid = procid if procid and procid.isascii() and procid.isdigit() and len(procid) <= 10 else None
        if procid and pid is None:
            extra["procid"] = procid
        return self._event(line, timestamp, nil(m.group("host")), nil(m.group("app")), pid, message, extra)

    def _event(self, line: str, timestamp: datetime | None, host: str | None, program: str | None,
               pid: str | None, message: str, extra: dict) -> Event:
        if host:
            extra["host"] = host
        if program:
            extra["program"] = program
        if pid is not None:
            extra["pid"] = int(pid)
        observer = self.context.observer or host
        claimers = self._by_program.get(program)
        if claimers is None:
            claimers = self._claimers(program)
        claimer = None
        for parser, always, prefixes in claimers:
            if always:  # it takes every message of this program: has it read this very message before?
                known = parser.known(message)
                if known is not None:
                    kind, app, transport, outcome, src_ip, src_port, user, dst_ip, dst_port = known[0]
                    extra.update(known[1])
                    # positional, in Event's field order (checked above): a third cheaper than by keyword
                    return Event(timestamp, kind, observer, src_ip, src_port, dst_ip, dst_port, transport, app,
                                 None, None, None, None, None, None, None, None, None, None, None, user, outcome,
                                 fields.text(message), line, None, extra)
                claimer = parser
                break
            if prefixes is not None and not message.startswith(prefixes):
                continue  # it claims none of this program's messages that start otherwise
            if parser.claims(program, message):
                claimer = parser
                break
        event = Event(timestamp, SourceKind.SYSLOG, observer, None, None, None, None, None, None, None, None, None,
                      None, None, None, None, None, None, None, None, None, None, fields.text(message), line, None,
                      extra)
        if claimer is not None:
            claimer.fill(event, program, message)
        return event

    def _claimers(self, program: str | None) -> tuple[tuple[MessageParser, bool, tuple[str, ...] | None], ...]:
        """The message parsers that may claim ``program``'s messages, in order, each with whether it claims
        them all and the starts of the messages it may claim (asked once per program name: most lines of a
        log come from a few programs)."""
        found: list[tuple[MessageParser, bool, tuple[str, ...] | None]] = []
        for parser in self._messages:
            verdict = parser.claims_program(program)
            if verdict is not False:
                found.append((parser, bool(verdict), None if verdict else parser.claim_prefixes(program)))
                if verdict:
                    break
        if len(self._by_program) >= 1024:
            self._by_program.clear()
            self._known_by_program.clear()
        self._by_program[program] = claimers = tuple(found)
        # for the usual line's shortcut: the parser that takes every message of the program, when each one asked
        # before it claims only messages with some starts (an empty tuple: it may remember none)
        last = claimers[-1] if claimers else None
        earlier = [prefixes for _, _, prefixes in claimers[:-1]]
        self._known_by_program[program] = (tuple(p for prefixes in earlier for p in prefixes), last[0]) \
            if last is not None and last[1] and all(p is not None for p in earlier) else ()
        return claimers
