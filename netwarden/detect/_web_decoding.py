"""What runs before the web attack signatures: the pre-filter and the decoding.

Attackers hide payloads from naive matching: ``%2527`` (double URL encoding), ``%u0027``, ``&#39;``,
``UN/**/ION SE/**/LECT``, ``%c0%ae%c0%ae/`` (overlong UTF-8), ``..%5c``, ``+`` and tabs for spaces,
``%00`` to cut a suffix. :func:`normalise` undoes all of that first. :func:`suspicious` rejects the
ordinary request before anything is decoded.

Cost: nearly every request is ordinary. :func:`suspicious` — one C-speed character-class match and a few
substring tests on the raw URL — rejects those before anything is decoded; only what it lets through (a
few percent of real traffic) is split into parameters, decoded and matched.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar
from urllib.parse import unquote

MAX_INSPECT = 8192  # characters of a URL or header that are inspected (hostile 1 MB URLs cost no more)
MEMO_LENGTH = 1024  # longer texts are worked out every time rather than pinning memory in a memo
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(dict[K, V], Generic[K, V]):
    """A pure function's results, bounded (emptied when full): ``memo[key]``. Under a flood the same URLs and
    times come back in every alert, and a dictionary hit is far cheaper than decoding or formatting again."""

    __slots__ = ("fn", "limit")

    def __init__(self, fn: Callable[[K], V], limit: int = 4096) -> None:
        super().__init__()
        self.fn, self.limit = fn, limit

    def __missing__(self, key: K) -> V:
        value = self.fn(key)
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


# -- the pre-filter ------------------------------------------------------------------------------
# Anything any rule below can match has, in the *raw* URL, a character outside this safe set (%-escapes,
# quotes, <, ;, |, $, (, spaces and "+", ":" of a scheme, "*" of a comment, "~" of an editor backup ...),
# a "..", a dot-file ("/."), a suspicious extension or one of a few names. Checking that is a C-speed
# full match plus a handful of substring tests: ~0.5-2 µs for a URL, and a verdict is cached per URL.
_SAFE = re.compile(r"[A-Za-z0-9/._,=&-]*")
_SUSPICIOUS_EXT = frozenset({"bak", "old", "orig", "save", "swp", "swo", "tmp", "backup", "copy", "sql", "gz", "zip",
                             "tar", "tgz", "bz2", "tbz2", "rar", "7z", "dump", "mdb", "sqlite", "sqlite3", "db", "ini"})


def suspicious(url: str) -> bool:
    """False when no rule can possibly match ``url`` (the cheap test every request passes first)."""
    if _SAFE.fullmatch(url) is None:
        return True
    low = url.lower()
    if ".." in low or "/." in low:
        return True
    path = low.partition("?")[0]
    if path.rpartition(".")[2] in _SUSPICIOUS_EXT:
        return True
    return ("admin" in low or "pma" in low or "sql" in low or "config" in low or "passwd" in low or "/etc/" in low
            or "/proc/" in low or "/var/log/" in low or "shadow" in low or "web-inf" in low or "phpinfo" in low
            or "server-" in low or "actuator" in low or "setup.php" in low or "id_rsa" in low or "id_dsa" in low
            or "credentials" in low or "secret" in low or "jmx-console" in low or "manager/html" in low
            or "web-console" in low or "jolokia" in low or "pprof" in low or "wvstest" in low or "acunetix" in low)


# -- decoding ------------------------------------------------------------------------------------

_OVERLONG = re.compile(r"%(?:c0%(?:ae|2e|af|2f|5c)|c1%(?:9c|1c)|e0%80%(?:ae|af)|f0%80%80%(?:ae|af))", re.IGNORECASE)
_OVERLONG_MAP = {"ae": ".", "2e": ".", "af": "/", "2f": "/", "5c": "\\", "9c": "\\", "1c": "\\"}
_PCT_U = re.compile(r"%u([0-9a-f]{4})", re.IGNORECASE)
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,10});?", re.IGNORECASE)
_NAMED_ENTITIES = frozenset({"lt", "gt", "quot", "apos", "amp", "sol", "bsol", "lpar", "rpar", "semi", "colon",
                             "period", "comma", "excl", "num", "dollar", "percnt", "lowbar", "equals", "tab",
                             "newline", "nbsp", "grave", "lcub", "rcub", "verbar", "ast", "plus"})
_SPACES = re.compile(r"[^\S\n]+|[\u200b\u3000]+")  # newlines stay: they separate shell commands


def _overlong(m: re.Match[str]) -> str:
    return _OVERLONG_MAP.get(m.group(0)[-2:].lower(), "/")


def _entity(m: re.Match[str]) -> str:
    body = m.group(1)
    if body[0] != "#" and body.lower() not in _NAMED_ENTITIES:
        return m.group(0)  # "&cat=5", "&para=": query separators, not HTML
    return html.unescape(f"&{body};")


def normalise(text: str, *, plus: bool = True) -> tuple[str, tuple[str, ...]]:
    """Decode ``text`` until stable and fold it for matching; returns it and the evasions noticed.

    >>> normalise("%2527%20UN/**/ION%20SE/**/LECT")[0]
    "' union select"
    >>> normalise("..%c0%af..%c0%afetc%252fpasswd%00.png")
    ('../../etc/passwd.png', ('overlong utf-8', 'double encoding', 'null byte'))
    """
    if len(text) > MAX_INSPECT:
        text = text[:MAX_INSPECT]
    evasion: list[str] = []
    if plus and "+" in text:
        text = text.replace("+", " ")
    rounds = 0
    while "%" in text and rounds < 6:
        before = text
        if "%c" in text or "%C" in text or "%e0" in text or "%E0" in text or "%f0" in text or "%F0" in text:
            text = _OVERLONG.sub(_overlong, text)
            if text != before and "overlong utf-8" not in evasion:
                evasion.append("overlong utf-8")
        if "%u" in text or "%U" in text:
            after = _PCT_U.sub(lambda m: chr(int(m.group(1), 16)), text)
            if after != text and "%u encoding" not in evasion:
                evasion.append("%u encoding")
            text = after
        text = unquote(text, errors="replace")
        if text == before:
            break
        rounds += 1
        if rounds == 2:
            evasion.append("double encoding")
        if plus and "+" in text and rounds >= 2:
            text = text.replace("+", " ")
    if "&" in text:
        after = _ENTITY.sub(_entity, text)
        if after != text:
            evasion.append("html entities")
            text = after
            if "%" in text:  # &#37;27 — one more round
                text = unquote(text, errors="replace")
    if "\x00" in text:
        evasion.append("null byte")
        text = text.replace("\x00", "")
    text = text.lower()
    if "/*" in text and "*/" in text:
        after = strip_comments(text, "")  # UN/**/ION → union (the spaced variant is matched too)
        if after != text:
            evasion.append("sql comments")
            text = after  # UN/**/ION → union (the spaced variant is matched too)
    text = _SPACES.sub(" ", text)
    return text, tuple(evasion)


def strip_comments(text: str, replacement: str) -> str:
    """SQL ``/* */`` comments replaced; MySQL's executable ``/*!50000union*/`` keeps its content. Linear
    time (a regular expression is quadratic on ``/*/*/*...``)."""
    out: list[str] = []
    i = 0
    while True:
        j = text.find("/*", i)
        k = text.find("*/", j + 2) if j >= 0 else -1
        if k < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        body = text[j + 2:k]
        out.append(" " + body.lstrip("!0123456789") + " " if body.startswith("!") else replacement)
        i = k + 2


def sql_spaced_variant(raw_norm_source: str) -> str | None:
    """``union/**/select`` reads as ``union select``: the variant with comments as spaces (None if none)."""
    if "/*" not in raw_norm_source or "*/" not in raw_norm_source:
        return None
    return _SPACES.sub(" ", strip_comments(raw_norm_source, " "))
