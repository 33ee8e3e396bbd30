"""Listen addresses as people write them in settings and options: ``HOST:PORT``, ``[V6]:PORT``, ``:PORT``,
``PORT`` or ``HOST``. Shared by the listeners, ``serve``, the commands and the settings page's checks."""

from __future__ import annotations


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT``, ``:PORT``, ``PORT`` or ``HOST`` -> (host, port); host "" is every address."""
    text = text.strip()
    host, port = text, str(default_port)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{text!r}: missing ] after an IPv6 address")
        host, rest = text[1:end], text[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r}: expected :PORT after ]")
            port = rest[1:]
    elif text.isdigit():
        host, port = "", text
    elif text.count(":") == 1:
        host, port = text.split(":")
    elif text.count(":") > 1:
        host = text  # a bare IPv6 address
    if host in ("*", "0"):
        host = ""
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 0 to 65535")
    return host, int(port)
