"""Applying the web attack signatures to a request: which part of a URL (path, each parameter's name and
value, with and without "+" as a space) or header is decoded and matched against which rules."""

from __future__ import annotations

import re
from urllib.parse import unquote

from netwarden.detect._web_decoding import MAX_INSPECT, MEMO_LENGTH, Memo, normalise, sql_spaced_variant, suspicious
from netwarden.detect._web_signatures import (
    CMDI,
    DISPLAY,
    JNDI,
    JNDI_OBFUSCATED,
    REDIRECT_PARAMS,
    RFI,
    RFI_PARAMS,
    SENSITIVE,
    SQLI,
    TRAVERSAL,
    XSS,
    Match,
    Rule,
    jndi,
    tool_match,
    tool_url,
)


_SCHEME_HOST = re.compile(r"^[a-z][a-z0-9+.-]{0,15}://[^/?#]*", re.IGNORECASE)
_NEEDS_SQL = re.compile(r"""['"`()=;#|&@]|--|\b(?:union|select|sleep|benchmark|waitfor|or|and|xor|having|order|group)\b""")
_NEEDS_XSS = re.compile(r"[<>\"'`(]|javascript|vbscript|data:|document\.|expression")
_NEEDS_CMD = re.compile(r"[;|`\n\r$&(]|/bin/|cmd")


def _first(rules: tuple[Rule, ...], text: str, where: str, evasion: tuple[str, ...]) -> Match | None:
    for rule in rules:  # strongest first
        m = rule.pattern.search(text)
        if m:
            return Match(rule, m.group(0).strip()[:DISPLAY], where, evasion)
    return None


def inspect_value(text: str, where: str, evasion: tuple[str, ...], *, sql_alt: str | None = None,
                  name: str = "", is_param: bool = True) -> list[Match]:
    """Every subkind's strongest match in one decoded value (a parameter, the path or a header)."""
    out: list[Match] = []
    if sql_alt or _NEEDS_SQL.search(text):
        m = _first(SQLI, text, where, evasion)
        if m is None and sql_alt:
            m = _first(SQLI, sql_alt, where, evasion)
        if m is not None:
            out.append(m)
    if "." in text or "/" in text or ":" in text:
        trav = text.replace("\\", "/") if "\\" in text else text
        rules = TRAVERSAL if is_param else TRAVERSAL[:2] + TRAVERSAL[4:]
        m = _first(rules, trav, where, evasion)
        if m is not None:
            out.append(m)
        if is_param and ("://" in text or text.startswith(("data:", "jar:"))):
            if name in RFI_PARAMS:
                rfi = RFI
            elif name in REDIRECT_PARAMS:  # "?next=http://localhost:8080/" is a login redirect on a dev box
                rfi = RFI[:2] + RFI[3:4]
            else:
                rfi = RFI[:5]
            m = _first(rfi, text, where, evasion)
            if m is not None:
                out.append(m)
    if _NEEDS_XSS.search(text):
        m = _first(XSS, text, where, evasion)
        if m is not None:
            out.append(m)
    if _NEEDS_CMD.search(text):
        m = _first(CMDI, text, where, evasion)
        if m is not None:
            out.append(m)
    if "${" in text:
        found = jndi(text)
        if found:
            rule = JNDI if "${jndi:" in text else JNDI_OBFUSCATED
            out.append(Match(rule, found[:DISPLAY], where, evasion))
    return out


def split_url(url: str) -> tuple[str, str]:
    """(path, query) of a request target; an absolute-form target (proxy requests) loses scheme and host."""
    if "://" in url[:24] and not url.startswith("/"):
        m = _SCHEME_HOST.match(url)
        if m:
            url = url[m.end():] or "/"
    path, _, query = url.partition("?")
    return path, query


def decoded_url(url: str) -> str:
    """The URL as an administrator wants to read it: decoded, control characters escaped, bounded."""
    return _DECODED[url] if len(url) <= MEMO_LENGTH else _decoded_url(url)


def _decoded_url(url: str) -> str:
    text = url[:MAX_INSPECT]
    for _ in range(3):
        after = unquote(text, errors="replace")
        if after == text:
            break
        text = after
    # printable ASCII escapes to itself: only a backslash is doubled, and the replace below halves it again
    if not (text.isascii() and text.isprintable()):
        text = text.encode("unicode_escape", "backslashreplace").decode("ascii").replace("\\\\", "\\")
    return text if len(text) <= DISPLAY else text[:DISPLAY] + "..."


_DECODED: Memo[str, str] = Memo(_decoded_url)


_VALUE_SAFE = re.compile(r"[A-Za-z0-9_.,+-]*")  # words, numbers, decimals, "+" spaces
_PLUS_SQL = re.compile(r"(?:^|\+)(?:or|and|xor|union|select|having|order|group|exec|waitfor|sleep|like|case"
                       r"|benchmark|not|drop|insert|delete|update)(?:\+|$)")


def _plain(value: str) -> bool:
    """A parameter value no rule can match (most of them: ids, words, "Vino+Rioja")."""
    if _VALUE_SAFE.fullmatch(value) is None or ".." in value:
        return False
    return "+" not in value or _PLUS_SQL.search(value.lower()) is None


def inspect_url(url: str) -> list[Match]:
    """Every attack pattern in one request target (path and parameters, each decoded on its own)."""
    if len(url) > MAX_INSPECT:
        url = url[:MAX_INSPECT]
    if not suspicious(url):
        return []
    path, query = split_url(url)
    out: list[Match] = []

    def add(found: list[Match]) -> None:
        for m in found:  # keep the strongest match per subkind
            for i, old in enumerate(out):
                if old.rule.subkind == m.rule.subkind:
                    if m.rule.strength > old.rule.strength:
                        out[i] = m
                    break
            else:
                out.append(m)

    if suspicious(path):
        npath, pev = normalise(path, plus=False)
        add(inspect_value(npath, "path", pev, sql_alt=_alt(path), is_param=False))
        if "/" in npath and not out:  # a traversal to /etc/passwd is reported as the traversal
            flat = npath.replace("//", "/") if "//" in npath else npath
            for rule in SENSITIVE:
                if rule.pattern.search(flat):
                    out.append(Match(rule, npath[:DISPLAY], "path", pev))
                    break
        tool = tool_url(npath)
        if tool:
            out.append(tool_match(tool))
    if query:
        if len(query) > 64 and query.count("&") > 200:  # parameter floods: inspect the whole as one value
            pieces = [query]
        else:
            pieces = query.split("&")
            if "&&" in query or "& " in query or " &" in query or "&#" in query or "&lt;" in query \
                    or "&gt;" in query or "&quot;" in query:
                pieces.append(query)  # an unencoded "&& id" or "&#39;" is one value the split would cut
        for piece in pieces:
            if not piece:
                continue
            name, eq, value = piece.partition("=")
            if not eq:
                name, value = "", piece
            odd_name = bool(name) and not name.isalnum() and not _plain(name)
            if value and not _plain(value):
                nvalue, vev = normalise(value)
                nname = normalise(name)[0] if odd_name else name.lower()
                if nvalue:
                    add(inspect_value(nvalue, f"parameter {nname[:60]}" if nname else "query", vev,
                                      sql_alt=_alt(value), name=nname))
            if odd_name:
                add(inspect_value(normalise(name)[0], "parameter name", (), is_param=False))
        tool = tool_url(query.lower())
        if tool:
            out.append(tool_match(tool))
    return out


def _alt(raw: str) -> str | None:
    if "/*" not in raw and "%2a" not in raw.lower():
        return None
    text = raw.replace("+", " ")
    for _ in range(4):
        after = unquote(text, errors="replace")
        if after == text:
            break
        text = after
    return sql_spaced_variant(text.lower())


_HEADER_SPECIAL = re.compile(r"""[${}'"<%;|`]|\(\s*\)""")


def inspect_lookups(value: str, where: str) -> list[Match]:
    """Only Log4Shell and Shellshock: what is worth looking for in a referrer or Host header."""
    if len(value) > MAX_INSPECT:
        value = value[:MAX_INSPECT]
    text, ev = normalise(value, plus=False)
    return _lookups(text, where, ev)


def _lookups(text: str, where: str, ev: tuple[str, ...]) -> list[Match]:
    """Log4Shell and Shellshock in normalised header text."""
    out: list[Match] = []
    found = jndi(text)
    if found:
        out.append(Match(JNDI if "${jndi:" in text else JNDI_OBFUSCATED, found[:DISPLAY], where, ev))
    m = CMDI[0].pattern.search(text)
    if m:
        out.append(Match(CMDI[0], m.group(0)[:DISPLAY], where, ev))
    return out


def inspect_header(value: str, where: str) -> list[Match]:
    """Injections in a user agent: Log4Shell, Shellshock, and the strongest SQL injection (sqlmap tests the
    User-Agent header at --level 3) and script rules — a user agent is free text, so nothing weaker."""
    if len(value) > MAX_INSPECT:
        value = value[:MAX_INSPECT]
    if _HEADER_SPECIAL.search(value) is None:
        return []
    text, ev = normalise(value, plus=False)
    out = _lookups(text, where, ev)
    # user agents are free text ("Mozilla/5.0 (X11; Linux)"): only the strongest SQL and script rules
    for rules in ((SQLI[0], SQLI[1], SQLI[4], SQLI[5], SQLI[6], SQLI[8]), XSS[:2]):
        m3 = _first(rules, text, where, ev)
        if m3:
            out.append(m3)
    return out
