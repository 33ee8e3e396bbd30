"""The syslog parser on every line of the real loghub logs (shared/datasets/loghub, see its PROVENANCE.md).

Counts are cross-checked against the raw text with plain regular expressions, independent of the parser.
"""

from __future__ import annotations

import gzip
import random
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.parse import ParseContext, ParseError, guess_format
from netwarden.parse.syslog import Syslog
from netwarden.records import Event

OPENSSH_REF = datetime(2016, 1, 15, tzinfo=timezone.utc)  # loghub OpenSSH: December (2015)
LINUX_REF = datetime(2006, 3, 31, tzinfo=timezone.utc)  # loghub Linux: June 2005 to February 2006


def _lines(path: Path) -> list[str]:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
            text = f.read()
    else:
        with open(path, encoding="utf-8", newline="") as f:  # keep the CRs: the parser must cope
            text = f.read()
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def _parse(lines: list[str], reference: datetime) -> tuple[list[Event], Counter]:
    parser = Syslog(ParseContext(source="test", reference_time=reference))
    events, quarantined = [], Counter()
    for line in lines:
        try:
            event = parser.parse_line(line)  # a trailing "\r" is the parser's to strip
        except ParseError as exc:
            quarantined[exc.reason] += 1
            continue
        assert event is not None
        events.append(event)
    return events, quarantined


def _codes(events: list[Event]) -> Counter:
    return Counter(e.extra.get("ssh_event") for e in events if "ssh_event" in e.extra)


_PAM_FAILURE = re.compile(r"sshd(?:\(pam_unix\))?\[\d+\]: (?:pam_unix\(sshd:auth\): |PAM )?(?:\d+ more )?"
                          r"authentication failures?; .*rhost=(\S*)")


def _pam_rhosts(lines: list[str]) -> list[str]:
    return [m.group(1) for line in lines if (m := _PAM_FAILURE.search(line))]


def test_openssh_2k(datasets: Path) -> None:
    lines = _lines(datasets / "loghub" / "OpenSSH_2k.log")
    assert len(lines) == 2000 and all(line.endswith("\r") for line in lines[:-1])  # CRLF, none after the last
    events, quarantined = _parse(lines, OPENSSH_REF)
    assert not quarantined and len(events) == 2000
    assert all(e.source_kind == "auth" and e.app_protocol == "ssh" for e in events)
    assert {e.timestamp.year for e in events} == {2015}
    codes = _codes(events)
    # PROVENANCE.md: 520 "Failed password" lines (2 are "message repeated 5 times: [ Failed password ...]"),
    # 113 "Invalid user", 85 "POSSIBLE BREAK-IN"
    assert codes["failed_password"] == 520 == sum("Failed password" in line for line in lines)
    failed = [e for e in events if e.extra["ssh_event"] == "failed_password"]
    assert sum(e.extra.get("repeat_count", 1) for e in failed) == 528  # attempts
    assert codes["invalid_user"] == 113 == sum("Invalid user" in line for line in lines)
    assert codes["break_in_attempt"] == 85 == sum("POSSIBLE BREAK-IN" in line for line in lines)
    assert codes["accepted_password"] == 1 and codes["failed_none"] == 4
    # 494 "authentication failure;" + 10 "PAM n more authentication failures;"
    assert codes["pam_auth_failure"] == 504
    # only "fatal: Write failed: Connection reset by peer [preauth]" is not a known message
    assert codes["other"] == 1
    assert all(e.src_ip and e.src_port and e.user and e.outcome == "failure" for e in failed)
    assert all(e.dst_port is None for e in events)  # the log never names the server port
    pam = [e for e in events if e.extra["ssh_event"] == "pam_auth_failure"]
    assert [e.src_ip or e.extra["rhost"] for e in pam] == _pam_rhosts(lines)


@pytest.mark.parametrize("name, total, pam_failures, pam_with_ip", [
    # Linux_2k: 490 "authentication failure;" lines, one of them gdm's (not sshd)
    ("Linux_2k.log", 2000, 489, 300),
    # Linux.log: 3,923 "authentication failure;" + 11 "n more authentication failures;" from sshd(pam_unix)
    ("Linux.log.gz", 25567, 3934, 2408),
])
def test_linux_syslog(datasets: Path, name: str, total: int, pam_failures: int, pam_with_ip: int) -> None:
    lines = _lines(datasets / "loghub" / name)
    assert len(lines) == total
    events, quarantined = _parse(lines, LINUX_REF)
    assert not quarantined and len(events) == total
    pam = [e for e in events if e.extra.get("ssh_event") == "pam_auth_failure"]
    assert len(pam) == pam_failures
    assert sum(1 for e in pam if e.src_ip) == pam_with_ip
    # rhost is the source: an address goes to src_ip, a DNS name to extra["rhost"], in the log's order
    rhosts = _pam_rhosts(lines)
    assert [e.src_ip or e.extra.get("rhost") or "" for e in pam] == rhosts
    assert all(e.outcome == "failure" and e.source_kind == "auth" for e in pam)
    assert events[0].timestamp.year == 2005 and events[-1].timestamp.year in (2005, 2006)


def test_linux_full_log_spans_the_new_year(datasets: Path) -> None:
    events, _ = _parse(_lines(datasets / "loghub" / "Linux.log.gz"), LINUX_REF)
    assert events[0].timestamp == datetime(2005, 6, 9, 6, 6, 20, tzinfo=timezone.utc)
    assert events[-1].timestamp == datetime(2006, 2, 28, 4, 48, 54, tzinfo=timezone.utc)
    stamps = [e.timestamp for e in events]
    # never a year backwards; the log itself steps back up to 5 hours (some daemons, e.g. ntpd, log in UTC)
    assert max(a - b for a, b in zip(stamps, stamps[1:])) == timedelta(hours=5, seconds=1)


def test_rpc_statd_exploit_lines_are_events(datasets: Path) -> None:
    """Linux.log holds a real format-string attack on rpc.statd, shellcode bytes and all."""
    lines = [line for line in _lines(datasets / "loghub" / "Linux.log.gz") if "rpc.statd" in line]
    events, quarantined = _parse(lines, LINUX_REF)
    assert not quarantined
    attacks = [e for e in events if (e.message or "").startswith("gethostbyname error for")]
    assert len(attacks) == 20
    assert all(e.extra["program"] == "rpc.statd" and "%hn" in e.message and e.source_kind == "syslog"
               for e in attacks)


@pytest.mark.parametrize("name", ["OpenSSH_2k.log", "Linux_2k.log", "Linux.log.gz"])
def test_syslog_wins_the_sniff(datasets: Path, name: str) -> None:
    sample = [line.rstrip("\r") for line in _lines(datasets / "loghub" / name)[:50]]
    assert Syslog.sniff(sample) >= 0.85
    assert guess_format(sample).name == "syslog"


@pytest.mark.parametrize("path", [
    "web-access-logs/apache_logs.gz", "suricata-eve/test6-malicious.suricata.json.gz",
    "unsw-nb15/UNSW_NB15_part-A.csv.gz", "nsl-kdd/KDDTrain+_20Percent.txt.gz",
    "argus-flows/test3-mixed.binetflow", "loghub/Apache_2k.log"])
def test_syslog_does_not_claim_other_formats(datasets: Path, path: str) -> None:
    full = datasets / path
    opener = gzip.open if full.suffix == ".gz" else open
    with opener(full, "rt", encoding="utf-8", errors="replace") as f:
        sample = [next(f).rstrip("\r\n") for _ in range(50)]
    assert Syslog.sniff(sample) == 0.0


def test_random_text_raises_only_parse_error(datasets: Path) -> None:
    """Mutated real lines and random junk: an event or a ParseError, never another exception."""
    rng = random.Random(20261121)
    seeds = [line.rstrip("\r") for line in _lines(datasets / "loghub" / "OpenSSH_2k.log")[:200]]
    seeds += (Path(__file__).resolve().parents[1] / "data" / "golden").joinpath("syslog.netfilter.log") \
        .read_text(encoding="utf-8").splitlines()
    seeds += (Path(__file__).resolve().parents[1] / "data" / "golden").joinpath("syslog.mikrotik.log") \
        .read_text(encoding="utf-8").splitlines()
    alphabet = " :[]()<>=,.-/\\\"'0123456789abcdefSRCDTPINOU\x00\r\t\ufeff\u00e9"
    parser = Syslog()
    for _ in range(20000):
        line = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(line) + 1)
            if rng.random() < 0.5 and line:
                del line[min(pos, len(line) - 1): pos + rng.randint(1, 6)]
            else:
                line[pos:pos] = rng.choices(alphabet, k=rng.randint(1, 4))
        try:
            parser.parse_line("".join(line))
        except ParseError:
            pass
