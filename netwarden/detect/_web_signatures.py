"""Signatures of web attacks (used by ``web_attack``), matched against text that ``_web_decoding`` has
pre-filtered and decoded, so every rule is written once, against lower-case decoded text.

Every rule has an id (the suppression signature is ``subkind:rule id``), a subkind, a strength — how
much that match alone should make an administrator believe it is an attack — and a description an
administrator understands. The rules are data, in ``web_signatures.toml`` beside this module. They are
deliberately *specific*: a lone quote, an ``<b>``, a ``../`` in a path, ``select`` in a search box or
``&cat=5`` never match; a payload that would work does.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from netwarden.detect._web_decoding import MAX_INSPECT

DISPLAY = 300  # characters of matched/decoded text kept in evidence


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    subkind: str
    strength: float  # 0..1: this match alone, how sure an administrator should be
    description: str
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Match:
    rule: Rule
    text: str  # the matched text, decoded, as an administrator expects to read it
    where: str  # "path", "parameter id", "user agent", "referrer", "host"
    evasion: tuple[str, ...] = ()  # encodings the attacker used to hide it

    @property
    def subkind(self) -> str:
        return self.rule.subkind


def _r(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL)


# -- the rules -----------------------------------------------------------------------------------
# They are data: web_signatures.toml beside this module, in the order they are tried (strongest first).
SIGNATURES = Path(__file__).with_name("web_signatures.toml")


def _load(path: Path) -> dict[str, Rule]:
    with path.open("rb") as f:
        rows = tomllib.load(f)["rule"]
    rules = {r["id"]: Rule(r["id"], r["subkind"], float(r["strength"]), r["description"], _r("".join(r["pattern"])))
             for r in rows}
    assert len(rules) == len(rows), "rule ids are unique (they are suppression signatures)"
    return rules


_RULES = _load(SIGNATURES)


def _of(subkind: str) -> tuple[Rule, ...]:
    return tuple(r for r in _RULES.values() if r.subkind == subkind)


SQLI, TRAVERSAL, XSS, CMDI, RFI = _of("sqli"), _of("traversal"), _of("xss"), _of("cmdi"), _of("rfi")
JNDI, JNDI_OBFUSCATED = _RULES["jndi-lookup"], _RULES["jndi-obfuscated"]
SECRET_FILE, BACKUP_FILE = _RULES["sensitive-secret"], _RULES["sensitive-backup"]
ADMIN_PANEL = _RULES["sensitive-admin-panel"]
INFO_ENDPOINT = _RULES["sensitive-status-page"]  # monitoring on the server polls these: reported from outside only
SENSITIVE = (SECRET_FILE, BACKUP_FILE, ADMIN_PANEL, INFO_ENDPOINT)

_NOT_LETTERS = re.compile(r"[^a-z:]+")
_LOOKUP = re.compile(r"\$\{([^${}]{0,200})\}")


def _lookup(m: re.Match[str]) -> str:
    body = m.group(1)
    if body.startswith("jndi:"):
        return m.group(0)
    if ":-" in body:  # ${env:NOPE:-j}, ${::-j}, ${sys:x:-n}: the default is what Log4j substitutes
        return body.split(":-", 1)[1]
    for prefix in ("lower:", "upper:", "date:"):
        if body.startswith(prefix):
            return body[len(prefix):].strip("'")
    return m.group(0)


def jndi(text: str) -> str | None:
    """The matched lookup if ``text`` (normalised) holds a Log4Shell lookup, undoing nested obfuscation."""
    if "${" not in text:
        return None
    nested = text.count("${") >= 2 or ":-" in text
    for _ in range(12):
        m = JNDI.pattern.search(text)
        if m:
            return m.group(0)
        after = _LOOKUP.sub(_lookup, text)
        if after == text:
            break
        text = after
    if not nested:  # only nested lookups are obfuscation, not a template's "${jsonIndex:...}"
        return None
    start = 0
    for _ in range(20):  # lookups left unresolved (${sys:x}jndi:...): read the letters after each "${"
        i = text.find("${", start)
        if i < 0:
            break
        if "jndi:" in _NOT_LETTERS.sub("", text[i + 2:i + 202])[:60]:
            return text[i:i + 120]
        start = i + 2
    return None


RFI_PARAMS = frozenset({"include", "inc", "page", "file", "filename", "path", "template", "tpl", "doc", "document",
                         "folder", "root", "pg", "style", "pdf", "layout", "mod", "module", "conf", "config", "dir",
                         "show", "view", "content", "load", "read", "require", "lang", "language", "skin", "theme",
                         "src", "source", "inc_file", "include_file", "mosconfig_absolute_path", "abspath", "base_path",
                         "basepath", "path_to_root", "rootpath", "home", "main", "nav", "cat"})
REDIRECT_PARAMS = frozenset({"next", "redirect", "redirect_uri", "redirect_url", "redirecturl", "return", "returnto",
                              "return_to", "returnurl", "return_url", "continue", "back", "came_from", "service",
                              "goto", "forward", "r", "u", "dest", "destination", "ref", "referer", "referrer"})
# -- tools -----------------------------------------------------------------------------------------
# (user-agent substring, tool name, kind). "attack" tools exploit or brute-force; "recon" tools map the
# site; "internet" scanners sweep the whole address space and hit every public server every day.
TOOL_AGENTS = (
    ("sqlmap", "sqlmap", "attack"), ("nikto", "Nikto", "attack"), ("nmap scripting engine", "Nmap NSE", "recon"),
    ("nmap", "Nmap", "recon"), ("gobuster", "gobuster", "recon"), ("dirbuster", "DirBuster", "recon"),
    ("feroxbuster", "feroxbuster", "recon"), ("dirsearch", "dirsearch", "recon"), ("wfuzz", "wfuzz", "attack"),
    ("fuzz faster u fool", "ffuf", "recon"), ("ffuf", "ffuf", "recon"), ("(hydra)", "THC Hydra", "attack"),
    ("hydra/", "THC Hydra", "attack"), ("medusa", "Medusa", "attack"), ("masscan", "masscan", "internet"),
    ("zgrab", "zgrab", "internet"), ("nuclei", "nuclei", "attack"), ("acunetix", "Acunetix", "attack"),
    ("wpscan", "WPScan", "attack"), ("nessus", "Nessus", "attack"), ("openvas", "OpenVAS", "attack"),
    ("netsparker", "Netsparker", "attack"), ("commix", "commix", "attack"), ("w3af", "w3af", "attack"),
    ("arachni", "Arachni", "attack"), ("skipfish", "skipfish", "attack"), ("whatweb", "WhatWeb", "recon"),
    ("jorgee", "Jorgee", "attack"), ("zmeu", "ZmEu", "attack"), ("morfeus", "Morfeus", "attack"),
    ("havij", "Havij", "attack"), ("bsqlbf", "bsqlbf", "attack"), ("paros", "Paros", "attack"),
    ("owasp zap", "OWASP ZAP", "attack"), ("xsstrike", "XSStrike", "attack"),
    ("joomscan", "JoomScan", "attack"), ("droopescan", "droopescan", "attack"), ("cmsmap", "CMSmap", "attack"),
    ("brutus", "Brutus", "attack"), ("dotdotpwn", "DotDotPwn", "attack"), ("fimap", "fimap", "attack"),
("vega/", "Vega", "attack"), ("webinspect", "WebInspect", "attack"),
    ("appscan", "AppScan", "attack"), ("qualys", "Qualys", "attack"), ("jaeles", "Jaeles", "attack"),
)
TOOL_AGENT_RULE = Rule("tool-agent", "scanner_tool", 0.7, "attack tool user agent", _r(""))
_TOOL_TOKENS = tuple((s, (name, kind)) for s, name, kind in TOOL_AGENTS)
# requests only a tool makes: nmap -sV's HTTP probe, scanners' fingerprints and out-of-band callback domains
TOOL_URLS = (
    ("nice ports,/trinity.txt.bak", "Nmap (service detection probe)", "recon"),
    ("acunetix-wvs-test", "Acunetix", "attack"), ("wvstest=", "Acunetix", "attack"),
    ("netsparker", "Netsparker", "attack"), ("burpcollaborator.net", "Burp", "attack"),
    ("oastify.com", "Burp", "attack"), ("interact.sh", "nuclei (interactsh)", "attack"),
    ("oast.fun", "nuclei (interactsh)", "attack"), ("oast.pro", "nuclei (interactsh)", "attack"),
    ("oast.live", "nuclei (interactsh)", "attack"), ("oast.site", "nuclei (interactsh)", "attack"),
    ("oast.online", "nuclei (interactsh)", "attack"), ("oast.me", "nuclei (interactsh)", "attack"),
)


def tool_agent(user_agent: str) -> tuple[str, str] | None:
    """(tool name, kind) when the user agent is an attack or scanning tool's (callers cache the verdict)."""
    low = user_agent[:MAX_INSPECT].lower()
    for token, tool in _TOOL_TOKENS:
        if token in low:
            return tool
    return None


def tool_url(norm: str) -> tuple[str, str] | None:
    for marker, name, kind in TOOL_URLS:
        if marker in norm:
            return name, kind
    return None


def tool_match(tool: tuple[str, str]) -> Match:
    """The match of a request only ``tool`` makes (see TOOL_URLS)."""
    return Match(Rule(f"tool-url-{tool[0].split()[0].lower()}", "scanner_tool", 0.8, f"request made only by {tool[0]}",
                      _r("")), tool[0], "url")
