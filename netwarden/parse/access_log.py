"""Apache / nginx access logs: common, combined, and vhost_combined (``host:port`` in front).

``%h %l %u %t "%r" %>s %b ["%{Referer}i" "%{User-agent}i"] [anything nginx appends]``
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from netwarden.parse import fields
from netwarden.parse.base import ParseError, Parser, register
from netwarden.records import Event, SourceKind

_Q = r'"((?:[^"\\]|\\.)*)"'  # a quoted field; Apache escapes " as \" and nginx as \x22
_LINE = re.compile(
    r'^(?:(?P<vhost>[^\s:]+):(?P<vport>\d+) )?'
    r'(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+(?: \S+)*?) '
    r'\[(?P<time>[^\]]{1,64})\] '
    + _Q.replace("(", "(?P<request>", 1) + r' '
    r'(?P<status>-|\d{1,3}) (?P<size>-|\d+)'
    r'(?: ' + _Q.replace("(", "(?P<referrer>", 1) + r' ' + _Q.replace("(", "(?P<agent>", 1) + r')?'
    r'(?P<trailing> .*)?$'
)
_REQUEST = re.compile(r'^(?P<method>[A-Za-z_-]{1,32}) (?P<url>\S+)(?: (?P<protocol>[A-Za-z]+/[0-9.]+))?$')
_TIME = re.compile(r'^(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: ([+-])(\d{2})(\d{2}))?$')


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

    @classmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        hits = sum(1 for line in lines if _LINE.match(line))
        return 0.95 * hits / len(lines)

    def _time(self, text: str) -> datetime:
        cached = self._time_cache.get(text)
        if cached is not None:
            return cached
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
            value = value.replace(tzinfo=timezone(offset if sign == "+" else -offset)).astimezone(timezone.utc)
        else:
            value = fields.aware(value, self.context.local_tz)
        if len(self._time_cache) > 4096:
            self._time_cache.clear()
        self._time_cache[text] = value
        return value

    def parse_line(self, line: str) -> Event | None:
        if not line.strip():
            return None
        m = _LINE.match(line)
        if m is None:
            raise ParseError("no_match", "not an access log line (common/combined)")
        g = m.group
        host = g("host")
        extra: dict = {}
        try:
            src_ip = fields.ip(host, "client address")
        except ParseError:
            # HostnameLookups On writes names, not addresses: keep the line, the name goes to extra
            if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", host) or host.replace(".", "").isdigit():
                raise
            src_ip = None
            extra["client_host"] = host
        request = _unescape(g("request"))
        method = url = None
        rm = _REQUEST.match(request)
        if rm:
            method, url = rm.group("method").upper(), rm.group("url")
            if rm.group("protocol"):
                extra["http_version"] = rm.group("protocol")
        elif request not in ("", "-"):
            # junk request lines (TLS handshakes to port 80, scanners) are evidence: keep them verbatim
            extra["request"] = request[:8192]
        status = None if g("status") == "-" else int(g("status"))
        if status is not None and not 100 <= status <= 999:
            raise ParseError("bad_status", f"HTTP status {status} out of range")
        size = fields.counter(g("size"), "response size")
        referrer = g("referrer")
        if referrer is not None:
            referrer = fields.text(_unescape(referrer))
            if referrer:
                extra["referrer"] = referrer
        if g("vhost"):
            extra["vhost"] = g("vhost")
            extra["vhost_port"] = int(g("vport"))
        if g("ident") != "-":
            extra["ident"] = g("ident")[:256]
        trailing = g("trailing")
        if trailing and trailing.strip():
            extra["trailing"] = trailing.strip()[:8192]
        agent = g("agent")
        user = g("user")
        return Event(
            timestamp=self._time(g("time")),
            source_kind=SourceKind.ACCESS_LOG,
            observer=self.context.observer,
            src_ip=src_ip,
            dst_port=extra.get("vhost_port"),
            transport="tcp",
            app_protocol="http",
            bytes_in=size,  # the response travels to the client, the event's source
            http_method=method,
            url=fields.text(url),
            http_status=status,
            user_agent=fields.text(_unescape(agent)) if agent is not None else None,
            user=fields.text(user, 256),
            raw=line,
            extra=extra,
        )
