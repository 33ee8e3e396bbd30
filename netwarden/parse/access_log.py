"""Apache / nginx access logs: common, combined, and vhost_combined (``host:port`` in front).

``%h %l %u %t "%r" %>s %b ["%{Referer}i" "%{User-agent}i"] [anything nginx appends]``
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from netwarden.parse import fields
from netwarden.parse.base import ParseError, Parser, register
from netwarden.records import EVENT_FIELDS, Event, SourceKind

# a quoted field; Apache escapes " as \" and nginx as \x22. Unrolled, so most characters cost no alternation
_Q = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_LINE = re.compile(
    r'^(?:(?P<vhost>[^\s:]+):(?P<vport>[0-9]+) )?'
    r'(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+(?: \S+)*?) '
    r'\[(?P<time>[^\]]{1,64})\] '
    + _Q.replace("(", "(?P<request>", 1) + r' '
    r'(?P<status>-|[0-9]{1,3}) (?P<size>-|[0-9]+)'  # [0-9], not \d: int() would read "٢٠٠" as 200
    r'(?: ' + _Q.replace("(", "(?P<referrer>", 1) + r' ' + _Q.replace("(", "(?P<agent>", 1) + r')?'
    r'(?P<trailing> .*)?$'
)
_REQUEST = re.compile(r'^(?P<method>[A-Za-z_-]{1,32}) (?P<url>\S+)(?: (?P<protocol>[A-Za-z]+/[0-9.]+))?$')
_TIME = re.compile(r'^(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: ([+-])(\d{2})(\d{2}))?$',
                   re.ASCII)  # \d is any decimal digit otherwise, and int() reads them all


_HOSTNAME = re.compile(r"[A-Za-z0-9.-]{1,253}")


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\") if "\\" in value else value


@register
class AccessLog(Parser):
    """Web server access log in the common or combined format (Apache, nginx, and most others)."""

    name = "access_log"
    description = "Apache/nginx access log (common, combined, vhost_combined)"
    example = ('203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET /index.html HTTP/1.1" 200 5120 '
               '"https://example.org/" "Mozilla/5.0"')
    source_kind = SourceKind.ACCESS_LOG

    def __init__(self, context=None) -> None:
        super().__init__(context)
        self._time_cache: dict[str, datetime] = {}
        self._day_cache: dict[str, float] = {}  # "17/May/2015 +0000" -> that day's midnight, Unix time
        self._last_text, self._last_time = "", None  # the last line's time: a busy log repeats its second

    @classmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        hits = sum(1 for line in lines if _LINE.match(line))
        return 0.95 * hits / len(lines)

    def _time(self, text: str) -> datetime:
        # The same second as the line before: the same (immutable) object, which also pickles as a reference to it
        # on its way to the writer process
        if text == self._last_text:
            return self._last_time  # type: ignore[return-value]
        value = self._read_time(text)
        self._last_text, self._last_time = text, value
        return value

    def _read_time(self, text: str) -> datetime:
        # Fast path for the usual "17/May/2015:10:05:03 +0000": the day and zone part is looked up,
        # the time of day added; everything else goes through the full parse.
        if len(text) == 26 and text[14] == ":" and text[17] == ":":
            base = self._day_cache.get(text[:11] + text[20:])
            if base is not None:
                clock = text[12:14] + text[15:17] + text[18:20]
                if clock.isdigit() and clock.isascii():
                    hms = int(clock)
                    h, m, sec = hms // 10000, hms // 100 % 100, hms % 100
                    if h < 24 and m < 60 and sec < 60:
                        try:
                            return datetime.fromtimestamp(base + h * 3600 + m * 60 + sec, timezone.utc)
                        except (ValueError, OverflowError):  # 31/Dec/9999 west of UTC: past year 9999
                            raise ParseError("bad_timestamp", f"time out of range [{text}]") from None
        cached = self._time_cache.get(text)
        if cached is not None:
            return cached
        value = self._parse_time(text)
        if len(text) == 26 and text[12:20] != "00:00:00":
            try:
                self._parse_time(text[:12] + "00:00:00" + text[20:])  # fills the day cache
            except ParseError:
                pass
        if len(self._time_cache) > 4096:
            self._time_cache.clear()
        self._time_cache[text] = value
        return value

    def _parse_time(self, text: str) -> datetime:
        m = _TIME.match(text)
        if not m:
            raise ParseError("bad_timestamp", f"invalid timestamp [{text}]")
        day, mon, year, hh, mm, ss, frac, sign, oh, om = m.groups()
        month = fields.MONTHS.get(mon.lower())
        if month is None:
            raise ParseError("bad_timestamp", f"invalid month in [{text}]")
        try:
            value = datetime(int(year), month, int(day), int(hh), int(mm), int(ss),
                             int(frac.ljust(6, "0")) if frac else 0)
        except ValueError:
            raise ParseError("bad_timestamp", f"impossible date [{text}]") from None
        if sign:
            offset = timedelta(hours=int(oh), minutes=int(om))
            if offset > timedelta(hours=14):
                raise ParseError("bad_timestamp", f"impossible zone offset in [{text}]")
            # through fields.aware: astimezone() overflows for 01/Jan/0001 east of UTC (31/Dec/9999 west)
            value = fields.aware(value.replace(tzinfo=timezone(offset if sign == "+" else -offset)), timezone.utc)
        else:
            value = fields.aware(value, self.context.local_tz)
        if len(text) == 26 and text[12:20] == "00:00:00" and len(self._day_cache) < 4096:
            self._day_cache[text[:11] + text[20:]] = value.timestamp()
        return value

    def parse_line(self, line: str) -> Event | None:
        m = _LINE.match(line)
        if m is None:
            if not line.strip():
                return None
            raise ParseError("no_match", "not an access log line (common/combined)")
        vhost, vport, host, ident, user, when, request, status, size, referrer, agent, trailing = m.groups()
        extra: dict = {}
        try:
            src_ip = fields.ip(host, "client address")
        except ParseError:
            # HostnameLookups On writes names, not addresses: keep the line, the name goes to extra
            if not _HOSTNAME.fullmatch(host) or host.replace(".", "").isdigit():
                raise
            src_ip = None
            extra["client_host"] = host
        if "\\" in request:
            request = _unescape(request)
        method = url = None
        rm = _REQUEST.match(request)
        if rm:
            method, url, protocol = rm.groups()
            if not method.isupper():
                method = method.upper()
            if protocol:
                extra["http_version"] = protocol
            if len(url) > 8192:
                url = url[:8192]
        elif request != "-" and request:
            # junk request lines (TLS handshakes to port 80, scanners) are evidence: keep them verbatim
            extra["request"] = request[:8192]
        if status == "-":
            status_code = None
        else:
            status_code = int(status)
            if not 100 <= status_code <= 999:
                raise ParseError("bad_status", f"HTTP status {status_code} out of range")
        if referrer and referrer != "-":
            if "\\" in referrer:
                referrer = _unescape(referrer)
            extra["referrer"] = referrer if len(referrer) <= 8192 else referrer[:8192]
        if agent is not None:
            if agent == "-" or not agent:
                agent = None
            else:
                if "\\" in agent:
                    agent = _unescape(agent)
                if len(agent) > 8192:
                    agent = agent[:8192]
        dst_port = None
        if vhost:
            extra["vhost"] = vhost
            dst_port = extra["vhost_port"] = fields.port(vport, "virtual host port")
        if ident != "-":
            extra["ident"] = ident[:256]
        if trailing and not trailing.isspace():
            extra["trailing"] = trailing.strip()[:8192]
        # positional: half the cost of keywords at 50,000 lines a second (the order is checked below)
        return Event(
            self._time(when), SourceKind.ACCESS_LOG, self.context.observer,
            src_ip, None, None, dst_port,  # src_ip, src_port, dst_ip, dst_port
            "tcp", "http",  # transport, app_protocol
            # bytes_out, then bytes_in: the response travels to the client, the event's source;
            # [0-9]+ in the pattern, < 19 digits fits
            None, None if size == "-" else (int(size) if len(size) < 19 else fields.counter(size, "response size")),
            None, None, None, None, None,  # packets_out, packets_in, duration, tcp_flags, action
            method, url, status_code, agent, None if user == "-" else user[:256],
            None, None, line, None, extra,  # outcome, message, raw, label, extra
        )


if EVENT_FIELDS != ("timestamp", "source_kind", "observer", "src_ip", "src_port", "dst_ip", "dst_port", "transport",
                    "app_protocol", "bytes_out", "bytes_in", "packets_out", "packets_in", "duration", "tcp_flags",
                    "action", "http_method", "url", "http_status", "user_agent", "user", "outcome", "message", "raw",
                    "label", "extra"):
    raise ImportError("Event's fields changed: update AccessLog.parse_line's positional Event(...)")
