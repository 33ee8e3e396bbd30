"""Signatures of web attacks (used by ``web_attack``), matched against text that ``_web_decoding`` has
pre-filtered and decoded, so every rule is written once, against lower-case decoded text.

Every rule has an id (the suppression signature is ``subkind:rule id``), a subkind, a strength — how
much that match alone should make an administrator believe it is an attack — and a description an
administrator understands. Rules are deliberately *specific*: a lone quote, an ``<b>``, a ``../`` in a
path, ``select`` in a search box or ``&cat=5`` never match; a payload that would work does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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

_Q = r"""['"`´’]"""  # quotes an injection closes
SQLI = (
    Rule("sqli-union", "sqli", 0.85, "UNION SELECT (data extraction)",
         _r(r"\bunion(?:\s*\(\s*|\s+)(?:all\s+|distinct\s+)?\(?\s*select\b(?:.{0,200}?\bfrom\s+[\w.`\[\]]+)?")),
    Rule("sqli-tautology", "sqli", 0.8, "always-true condition (OR 1=1)",
         _r(r"\b(?:or|and|xor|having)(?:\s+|\s*\(\s*|\s*(?=['\"]))\(?\s*['\"]?(\w{1,20})['\"]?\s*(?:=|<=>|==|\blike\b)\s*['\"]?\1\b"
            r"|(?:\|\||&&)\s*['\"]?(\w{1,20})['\"]?\s*=\s*['\"]?\2\b")),
    Rule("sqli-quote-boolean", "sqli", 0.65, "quote closed, then a boolean test",
         _r(_Q + r"\s*\)?\s*(?:or|and|xor)\s+(?:not\s+)?[\(\s]*(?:\d+\s*(?:=|<|>|like)\s*\d+|true|false|null"
            r"|['\"]\w*['\"]\s*(?:=|<|>|like)|\w+\s*(?:=|like)\s*['\"]|['\"]{2}\s*=)")),
    Rule("sqli-comment", "sqli", 0.6, "quote closed, rest of the query commented out",
         _r(r"^[\w.@$-]{0,40}" + _Q + r"\s*\)*\s*(?:--(?:\s|$)|#\s*$|/\*|;\s*(?:--|#|$))")),
    Rule("sqli-stacked", "sqli", 0.8, "stacked query (; DROP/INSERT/EXEC ...)",
         _r(r"[\w'\")]\s*;\s*(?:drop\s+(?:table|database)\b|shutdown\b|exec(?:ute)?\s*(?:\(|master\.|xp_|sp_)"
            r"|declare\s+@|insert\s+into\b|delete\s+from\b|update\s+[\w.`]+\s+set\b|create\s+(?:table|user)\b"
            r"|alter\s+table\b|truncate\s+table\b|select\s+.{1,80}\bfrom\b|select\s+(?:pg_sleep|sleep)\b)")),
    Rule("sqli-time", "sqli", 0.8, "time-based blind injection (SLEEP/BENCHMARK/WAITFOR)",
         _r(r"\b(?:sleep\s*\(\s*\d+\s*\)|benchmark\s*\(\s*\d+\s*,|pg_sleep\s*\(|waitfor\s+delay\s+['\"]"
            r"|dbms_pipe\.receive_message|dbms_lock\.sleep|randomblob\s*\(\s*\d{6,})")),
    Rule("sqli-schema", "sqli", 0.75, "database catalogue access",
         _r(r"\b(?:information_schema|mysql\.(?:user|db)\b|pg_catalog|pg_shadow|pg_user\b|sysobjects|syscolumns"
            r"|sys\.(?:tables|objects|columns|databases)|all_tables|user_tables|sqlite_master|msysobjects)")),
    Rule("sqli-function", "sqli", 0.7, "SQL function used in injections",
         _r(r"\b(?:load_file\s*\(|extractvalue\s*\(|updatexml\s*\(|group_concat\s*\(|xp_cmdshell|sp_executesql"
            r"|utl_inaddr|utl_http|char\s*\(\s*\d+\s*(?:,\s*\d+\s*){2,}\)|concat(?:_ws)?\s*\([^)]{0,100}0x[0-9a-f]+"
            r"|@@(?:version|datadir|hostname)\b|into\s+(?:out|dump)file\b|(?:user|database|version|schema)\s*\(\s*\)"
            r"\s*(?:,|\)|from|--|#|$)|unhex\s*\(|\bcase\s+when\s.{1,80}?\bthen\s.{1,80}?\b(?:else|end)\b)")),
    Rule("sqli-subquery", "sqli", 0.75, "subquery injected after a closed value",
         _r(r"(?:" + _Q + r"|\d)\s*\)*\s*(?:or|and|union|,|\|\|)?\s*\(\s*select\b.{1,200}?\bfrom\b")),
    Rule("sqli-select-from", "sqli", 0.6, "SELECT ... FROM statement",
         _r(r"\bselect\s+(?:\*|[\w.@`()]+(?:\s*,\s*[\w.@`()]+)+|(?:count|concat|group_concat)\s*\(\S*|@@\w+)"
            r"\s+from\s+\S+|\bselect\s+\S+\s+from\s+\S+\s+(?:where|limit|order\s+by|group\s+by)\b")),
    Rule("sqli-order-by", "sqli", 0.6, "ORDER BY column probing",
         _r(_Q + r"\s*\)?\s*(?:order|group)\s+by\s+\d+|\b(?:order|group)\s+by\s+\d+\s*(?:--|#)")),
)

_RUN = r"(?<!\.)(?<!\./)(?<!;/)"  # only where a run of ../../ starts: linear time on "../" * 3000
TRAVERSAL = (
    Rule("traversal-target", "traversal", 0.9, "directory traversal to a system file",
         _r(_RUN + r"(?:\.{2,}+;?/++)++(?:etc/(?:passwd|shadow|group|hosts|issue|motd|hostname|crontab)"
            r"|proc/self/|windows/(?:win\.ini|system\.ini|system32)|winnt/|boot\.ini|web-inf/|\.ssh/|\.aws/"
            r"|var/log/|\.env\b|\.git/|wp-config\.php|config\.php|\.htpasswd|inetpub/)")),
    Rule("traversal-dotdot", "traversal", 0.7, "directory traversal (../../)",
         _r(_RUN + r"(?:\.{2,}+;?/++){2,}+[^/\s]*")),
    Rule("traversal-param", "traversal", 0.6, "parameter value climbing out of the directory (../)",
         _r(r"^(?:\.{2,}+;?/++)++[^/\s]*")),
    Rule("lfi-system-file", "traversal", 0.75, "parameter names a system file (local file inclusion)",
         _r(r"^(?:file://)?(?:/+(?:etc/(?:passwd|shadow|group|hosts|issue)|proc/self/(?:environ|cmdline|fd|maps)"
            r"|var/log/(?:apache2?|httpd|nginx)/|root/|home/[\w.-]+/\.ssh/)|[a-z]:/+(?:windows|winnt|boot\.ini)"
            r"|/+(?:windows|winnt)/)\S*$")),
    Rule("lfi-wrapper", "traversal", 0.8, "PHP stream wrapper reading local files",
         _r(r"\b(?:php://filter|php://fd|file:///)\S*")),
)

XSS = (
    Rule("xss-script", "xss", 0.85, "<script> tag",
         _r(r"<\s*/?\s*script\b[^>]{0,100}>?[^<]{0,80}(?:<\s*/\s*script\s*>)?")),
    Rule("xss-event-handler", "xss", 0.75, "HTML tag with an event handler (onerror=, onload=)",
         _r(r"<\s*[a-z!][^>]{0,200}?[\s/\"'](?:on[a-z]{3,25})\s*=[^>]{0,100}")),
    Rule("xss-attribute-breakout", "xss", 0.7, "quote closed, event handler added",
         _r(r"[\"'`]\s*(?:/|\s)*\bon(?:error|load|mouse\w+|focus|blur|click|dblclick|key\w+|submit|change|input"
            r"|toggle|animation\w+|transition\w+|pointer\w+|begin|end)\s*=\s*\S{1,100}")),
    Rule("xss-js-uri", "xss", 0.7, "javascript: URI",
         _r(r"(?:^|[\s\"'=(])(?:javascript|vbscript|livescript)\s*:\s*[\w$.\[\]'\"]+\s*[(=`]\S{0,100}"
            r"|data:text/html[;,]\S{0,100}")),
    Rule("xss-tag", "xss", 0.65, "active HTML tag injected",
         _r(r"<\s*(?:iframe|frame|frameset|object|embed|applet|svg|math|meta|base|link|style|isindex|xss)\b[^>]{0,200}?(?:\b(?:src|href|data|action"
            r"|formaction|srcdoc|http-equiv|background|dynsrc|lowsrc)\s*=|/?>)")),
    Rule("xss-dom", "xss", 0.6, "script payload (alert(), document.cookie)",
         _r(r"(?:" + _Q + r"|>|;|^)\s*[-;+)]*\s*(?:alert|prompt|confirm|eval)\s*[(`][^)`]{0,60}[)`]"
            r"|document\.(?:cookie|domain|write\s*\()|string\.fromcharcode\s*\(|window\.location\s*="
            r"|expression\s*\(|\.innerhtml\s*=")),
)

_CMD_STRONG = (r"wget|curl|nc|ncat|netcat|bash|sh|zsh|ksh|dash|python[23]?|perl|ruby|php|powershell|pwsh"
               r"|cmd(?:\.exe)?|whoami|uname|ifconfig|ipconfig|nslookup|dig|chmod|chown|busybox|tftp|telnet"
               r"|certutil|bitsadmin|systeminfo|net\s+(?:user|localgroup)|/bin/\w+|/usr/bin/\w+|/usr/local/bin/\w+")
_CMD_WEAK = r"id|ls|cat|echo|ping|sleep|pwd|rm|kill|ps|dir|head|tail|env|printenv|hostname|uptime|touch|mkdir|cp|mv"
_CMD_SEP = r"(?:[;|`\n\r]|&&|\|\||\$\()"
CMDI = (
    Rule("cmdi-shellshock", "cmdi", 0.95, "Shellshock (bash function definition)",
         _r(r"\(\s*\)\s*\{[^}]{0,40};\s*\}\s*;.{0,100}")),
    Rule("cmdi-chain", "cmdi", 0.85, "shell command chained after the value (; wget, | bash)",
         _r(r"(?:[;|`\n\r]|&&|\|\||\$\(|&(?=\s))\s*(?:" + _CMD_STRONG + r")\b(?![.-]\w)[^;|&`\n]{0,100}")),
    Rule("cmdi-short", "cmdi", 0.75, "shell command chained after the value (; id, | cat /etc/passwd)",
         _r(_CMD_SEP + r"\s*(?:" + _CMD_WEAK + r")(?=\s*$|\s*[;|&`)#]|\s+[-/$\d'\"~*])[^;|&`\n]{0,100}")),
    Rule("cmdi-ifs", "cmdi", 0.85, "shell $IFS space evasion", _r(r"\$\{?ifs\}?(?:\$9)?")),
    Rule("cmdi-shell-path", "cmdi", 0.7, "shell invoked by path",
         _r(r"(?:^|[\s;|&`=(])/bin/(?:ba|z|k|c|da)?sh\b.{0,60}|\bcmd(?:\.exe)?\s+/[ck]\s.{0,60}"
            r"|\bpowershell(?:\.exe)?\s+-(?:e|enc|encodedcommand|nop|noni|w|c|command)\b.{0,60}")),
)

JNDI = Rule("jndi-lookup", "jndi", 0.95, "Log4Shell JNDI lookup (${jndi:...})", _r(r"\$\{jndi:[^}\s]{0,120}\}?"))
JNDI_OBFUSCATED = Rule("jndi-obfuscated", "jndi", 0.95, "obfuscated Log4Shell lookup", _r(r"\$\{"))
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
RFI = (
    Rule("ssrf-metadata", "rfi", 0.9, "server-side request to a cloud metadata service",
         _r(r"(?:^|[@/=])(?:169\.254\.169\.254|metadata\.google\.internal|100\.100\.100\.200|\[?fd00:ec2::254)\S*")),
    Rule("rfi-wrapper", "rfi", 0.8, "code-execution stream wrapper (php://input, data://, expect://)",
         _r(r"^(?:php://input|data:(?://)?[\w/+.-]*;base64,|data://|expect://|phar://|zip://|gopher://|dict://"
            r"|jar:(?:https?|file):)\S*")),
    Rule("ssrf-local", "rfi", 0.7, "server-side request to the server itself",
         _r(r"^(?:https?|ftp|gopher|dict|file)://(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|0x7f[0-9a-f]*|2130706433"
            r"|\[::1?\])(?::\d+)?(?:/\S*)?$")),
    Rule("rfi-query-cut", "rfi", 0.75, "remote URL ending in ? (cuts the application's suffix)",
         _r(r"^(?:https?|ftps?)://[^\s?]+\?+$")),
    Rule("rfi-ip-url", "rfi", 0.65, "parameter holds a URL on a bare IP address",
         _r(r"^(?:https?|ftps?)://\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?/\S*")),
    Rule("rfi-include", "rfi", 0.65, "file/include parameter holds a remote URL", _r(r"^(?:https?|ftps?)://\S+")),
)

# -- sensitive files (the request path) ------------------------------------------------------------
SECRET_FILE = Rule("sensitive-secret", "sensitive_file", 0.55, "secrets or source-control file", _r(
    r"/\.(?:env(?:\.[\w.-]+)?(?=$|[/;])|git(?:/|$)|gitconfig|git-credentials|svn(?:/|$)|hg(?:/|$)|bzr(?:/|$)|ds_store|htpasswd"
    r"|htaccess|aws/|ssh/|docker/config\.json|dockercfg|npmrc|pypirc|netrc|bash_history|zsh_history|mysql_history"
    r"|vscode/sftp\.json|idea/workspace\.xml|boto)\S*"
    r"|/wp-config\.php\S*|/(?:config|configuration|settings|database|db|local)\.(?:php|inc|ini|yml|yaml)"
    r"(?:\.|~)\S*|/(?:web|app)\.config\S*|/web-inf/\S*|/id_[rd]sa\S*|/sftp-config\.json|/credentials(?:\.json)?$"
    r"|/secrets?\.(?:json|ya?ml)$|/etc/(?:passwd|shadow|group)\b|/proc/self/\S*|/(?:win\.ini|boot\.ini)$"
    r"|/phpinfo\.php"))
# status pages that monitoring on the server itself polls: only reported for requests from outside
INFO_ENDPOINT = Rule("sensitive-status-page", "sensitive_file", 0.4, "server status or debug endpoint", _r(
    r"/server-(?:status|info)\b|/actuator/(?:env|heapdump|configprops|mappings|trace|threaddump)\b|/debug/pprof\b"
    r"|/jolokia\b"))
BACKUP_FILE = Rule("sensitive-backup", "sensitive_file", 0.5, "backup or database dump of the site", _r(
    r"/[\w.-]{0,255}\.(?:sql|sql\.gz|sql\.zip|sql\.bz2|dump|mdb|sqlite3?|db)$"
    r"|/[\w.-]{1,255}\.(?:php|asp|aspx|jsp|inc|py|rb|pl|cgi|conf|config|cfg|ini|ya?ml|json|xml|html?)"
    r"(?:\.(?:bak|old|orig|save|swp|swo|tmp|backup|copy)|~)$"
    r"|/(?:backup|backups|back|bak|www|site|web|website|html|htdocs|public_html|wwwroot|db|database|dump|data"
    r"|sql|mysql|old|new|archive|test|temp|tmp|files|home|admin|src|source|code|app|release|\d{4}(?:-\d\d)*)"
    r"\.(?:zip|tar|tar\.gz|tgz|tar\.bz2|tbz2|rar|7z|gz|bz2|bak)$"))
ADMIN_PANEL = Rule("sensitive-admin-panel", "sensitive_file", 0.4, "database or server admin panel", _r(
    r"/(?:phpmyadmin[\w.-]*|pma|myadmin|mysqladmin|mysql-admin|phpmyadmin2|dbadmin|sqladmin|websql|pgadmin"
    r"|phppgadmin|adminer(?:\.php)?|sqlweb|sqlitemanager)(?:/|$)\S*"
    r"|/manager/html\b|/jmx-console\b|/web-console\b|/solr/admin\b|/scripts/setup\.php"))
SENSITIVE = (SECRET_FILE, BACKUP_FILE, ADMIN_PANEL, INFO_ENDPOINT)

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
