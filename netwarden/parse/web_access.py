"""Web server access lines sent over syslog: nginx (``access_log syslog:server=...``) and Apache
(``CustomLog "|/usr/bin/logger -t apache2" combined``). The message is a common/combined access line.

The program must be a web server's and the message must look like an access line: nginx sends its
error log under the same program name, and those lines stay ordinary syslog events.
"""

from __future__ import annotations

from netwarden.parse._messages import MessageParser, register_message
from netwarden.parse.access_log import _LINE, AccessLog
from netwarden.records import Event, SourceKind

_COPIED = ("src_ip", "dst_port", "transport", "app_protocol", "bytes_in", "http_method", "url", "http_status",
           "user_agent", "user")


@register_message
class WebAccess(MessageParser):
    name = "web_access"
    description = "nginx/Apache access lines (common, combined) sent over syslog"
    programs = frozenset({"nginx", "apache", "apache2", "httpd", "lighttpd", "caddy"})

    def __init__(self) -> None:
        self._access = AccessLog()

    def claims(self, program: str | None, message: str) -> bool:
        return program is not None and program.lower() in self.programs and _LINE.match(message) is not None

    def claims_program(self, program: str | None) -> bool | None:
        return None if program is not None and program.lower() in self.programs else False

    def fill(self, event: Event, program: str | None, message: str) -> None:
        request = self._access.parse_line(message)  # ParseError for impossible values: quarantined
        assert request is not None  # claims() matched the line
        event.source_kind = SourceKind.ACCESS_LOG
        event.timestamp = request.timestamp  # when the request was served, not when syslog sent it
        for name in _COPIED:
            setattr(event, name, getattr(request, name))
        event.extra.update(request.extra)
