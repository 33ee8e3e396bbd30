"""The terminal: standard output and error, escaping of attacker-controlled text, one table style, errors."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

import orjson
from rich.console import Console
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

_TRAILING_SPACE = re.compile(r"[ \t]+(?=\n|$)")


class _Console(Console):
    """Rich pads table cells to the column width; piped into a file, lines end without trailing spaces."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        text = super()._render_buffer(buffer)
        return text if self.is_terminal else _TRAILING_SPACE.sub("", text)


out = _Console(highlight=False, soft_wrap=True)
if not out.is_terminal:
    out.width = 200  # piped into a file or pager: keep table rows on one line
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one error, one line

# Log values are attacker-controlled: a user agent carrying ESC[2J must not drive the terminal
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(value: Any) -> str:
    """Text fit for a terminal: control, bidi-override and line-separator characters escaped."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                        else f"\\u{ord(m.group()):04x}", text)


def json_line(value: Any) -> str:
    """One JSON object and a newline, fit for a terminal: the characters ``safe`` escapes are written as
    ``\\uXXXX`` (JSON allows it; a JSON reader gets the original text back)."""
    text = orjson.dumps(value, default=str).decode()
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def answered_without_table(rows: Sequence[Any], as_json: bool, to_dict: Callable[[Any], Any], empty: str, *,
                           console: Console | None = None) -> bool:
    """What every list command does before its table: with ``--json`` each row as a JSON line; with no rows the
    ``empty`` message (on ``console``, stdout by default). True when that answered, so no table is due."""
    if as_json:
        for row in rows:
            sys.stdout.write(json_line(to_dict(row)))
        return True
    if not rows:
        (console or out).print(empty)
        return True
    return False


def plain_table(*columns: str) -> Table:
    """The CLI's one table style: no boxes, bold headers (rows stay easy to grep and cut)."""
    return Table(*columns, show_edge=False, pad_edge=False, box=None, header_style="bold")


def list_table(*columns: str, text: str) -> Table:
    """A list command's table: each column on one line, then a ``text`` column that folds (why, reason)."""
    table = plain_table()
    for column in columns:
        table.add_column(column, no_wrap=True)
    table.add_column(text, overflow="fold")
    return table


def endpoint(ip: str | None, port: int | None) -> str:
    """``ip:port``, ``[ipv6]:port``, or whichever of the two is known."""
    if ip is None:
        return "" if port is None else f":{port}"
    if port is None:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def error(message: str) -> None:
    """One error line on standard error, after what standard output already holds (both may go to one pipe)."""
    out.file.flush()
    err.print(Text(f"netwarden: error: {safe(message)}", style="red"))


def fail(message: str, code: int = 1) -> NoReturn:
    error(message)
    sys.exit(code)
