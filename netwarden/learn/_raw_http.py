"""Raw HTTP/1.x requests one after another (the CSIC 2010 files, a proxy's request dump) as Events.

Each request starts at a line ``METHOD target HTTP/x.y``; headers follow, then a blank line, then for a
request with ``Content-Length`` the body. The body of a form POST goes into ``extra["body"]`` so the
request model sees its parameters like those of a query string. An absolute target
(``http://localhost:8080/tienda1/...``) keeps only its path and query, as an access log would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from netwarden.records import Event, SourceKind

REQUEST_LINE = re.compile(r"^(?P<method>[A-Z][A-Z_-]{0,31}) (?P<target>\S+) HTTP/[0-9.]+\r?$")
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
MAX_BODY = 65_536


def looks_raw_http(lines: Iterable[str]) -> bool:
    """True when the first non-empty line is an HTTP request line."""
    for line in lines:
        if line.strip():
            return bool(REQUEST_LINE.match(line.rstrip("\n")))
    return False


def read_requests(lines: Iterable[str], label: str | None = None) -> Iterator[Event]:
    """Events from raw requests; lines before the first request line are ignored."""
    current: dict[str, Any] | None = None
    for line in lines:
        text = line.rstrip("\r\n")
        match = REQUEST_LINE.match(text)
        if match and (current is None or current["in_body"] or not current["headers_done"] or current["done"]):
            if current is not None:
                yield _event(current, label)
            current = {"method": match["method"], "target": match["target"], "headers": {}, "body": [],
                       "headers_done": False, "in_body": False, "done": False}
            continue
        if current is None or current["done"]:
            continue
        if not current["headers_done"]:
            if not text:
                current["headers_done"] = True
                current["in_body"] = int(current["headers"].get("content-length", "0") or 0) > 0
                current["done"] = not current["in_body"]
            else:
                name, _, value = text.partition(":")
                current["headers"][name.strip().lower()] = value.strip()
        elif current["in_body"]:
            if text:
                current["body"].append(text)
            else:
                current["done"] = True
    if current is not None:
        yield _event(current, label)


def _event(request: dict[str, Any], label: str | None) -> Event:
    target = _ABSOLUTE.sub("", request["target"]) or "/"
    headers = request["headers"]
    extra: dict[str, Any] = {}
    body = "&".join(request["body"])[:MAX_BODY]
    if body:
        extra["body"] = body
    return Event(timestamp=None, source_kind=SourceKind.HTTP, app_protocol="http", http_method=request["method"],
                 url=target, user_agent=headers.get("user-agent"), dst_port=_port(headers.get("host", "")),
                 label=label, extra=extra)


def _port(host: str) -> int | None:
    _, sep, port = host.rpartition(":")
    return int(port) if sep and port.isdigit() and int(port) < 65536 else None
