"""The flow-log parsers (Zeek conn.log, Suricata EVE, Argus binetflow) against the real files in
shared/datasets: every line parses, nothing is quarantined, and the counts are those the PROVENANCE.md
tables state (and that were checked by hand against the files)."""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from netwarden.parse import ParseContext, ParseError, get_parser, guess_format
from netwarden.records import Event

pytestmark = pytest.mark.datasets


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    empty: int = 0  # header, comment, blank and management lines
    quarantined: Counter = field(default_factory=Counter)


def _run(name: str, lines: Iterable[str]) -> Outcome:
    parser = get_parser(name)(ParseContext(source="dataset"))
    out = Outcome()
    for number, line in enumerate(lines, start=1):
        try:
            event = parser.parse_line(line.rstrip("\n"))
        except ParseError as exc:
            out.quarantined[f"{number}: {exc}"] += 1
            continue
        if event is None:
            out.empty += 1
        else:
            out.events.append(event)
    return out


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


# --- Zeek ---------------------------------------------------------------------------------------------

ZEEK_RECORDS = {
    "port-scans_horizontal_conn.log": 41,
    "port-scans_vertical_conn.log": 50,
    "test9-mixed_conn.log": 576,
    "test10-mixed_conn.log": 141,
    "test13-malicious-dhcpscan_conn.log": 2,
    "test18-ctu-sme-11_conn.log.labeled": 766,
}


def test_every_zeek_file_is_counted(datasets: Path) -> None:
    present = {p.name for p in (datasets / "zeek-conn-logs").iterdir()
               if p.name.endswith((".log", ".log.labeled"))}
    assert present == set(ZEEK_RECORDS)


@pytest.mark.parametrize("filename", sorted(ZEEK_RECORDS))
def test_zeek_conn_files(datasets: Path, filename: str) -> None:
    lines = _lines(datasets / "zeek-conn-logs" / filename)
    out = _run("zeek_conn", lines)
    assert not out.quarantined, list(out.quarantined)[:5]
    assert len(out.events) == ZEEK_RECORDS[filename]
    assert out.empty == sum(1 for line in lines if line.lstrip().startswith("#") or not line.strip())
    assert all(e.source_kind == "zeek" and e.timestamp is not None and e.src_ip and e.dst_ip for e in out.events)
    assert guess_format(lines[:50]).name == "zeek_conn"


def test_zeek_labelled_file(datasets: Path) -> None:
    out = _run("zeek_conn", _lines(datasets / "zeek-conn-logs" / "test18-ctu-sme-11_conn.log.labeled"))
    assert Counter(e.label for e in out.events) == {"Malicious": 719, "Benign": 44, "Unknown": 3}
    detailed = Counter(e.extra.get("detailedlabel") for e in out.events)
    assert detailed["From_malicious-To_malicious-Malware_data_exfiltration-RemcosRAT"] == 719
    assert detailed[None] == 3  # the three Unknown rows have detailedlabel (empty)
    assert Counter(e.extra["conn_state"] for e in out.events if e.label == "Malicious") == {"REJ": 718, "S0": 1}


def test_zeek_relative_and_real_timestamps(datasets: Path) -> None:
    scan = _run("zeek_conn", _lines(datasets / "zeek-conn-logs" / "port-scans_horizontal_conn.log"))
    assert all(e.timestamp.year == 1970 for e in scan.events)  # Slips rewrote them as small relative numbers
    vertical = _run("zeek_conn", _lines(datasets / "zeek-conn-logs" / "port-scans_vertical_conn.log"))
    assert {e.timestamp.date().isoformat() for e in vertical.events} == {"2023-11-24"}
    to_scanme = [e for e in vertical.events if e.dst_ip == "45.33.32.156"]  # the rest: DNS, one HTTPS
    assert len(to_scanme) == 46 and len({e.dst_port for e in to_scanme}) == 44
    assert Counter(e.extra["conn_state"] for e in vertical.events) == {"REJ": 43, "SF": 4, "RSTO": 3}


# --- Suricata -----------------------------------------------------------------------------------------

EVE_TYPES = {"flow": 3512, "alert": 745, "dns": 680, "http": 56, "fileinfo": 3, "anomaly": 3, "tls": 1}


def test_suricata_eve_file(datasets: Path) -> None:
    lines = _lines(datasets / "suricata-eve" / "test6-malicious.suricata.json.gz")
    out = _run("suricata_eve", lines)
    assert not out.quarantined, list(out.quarantined)[:5]
    assert len(out.events) == 5000 and out.empty == 0
    assert Counter(e.extra["event_type"] for e in out.events) == EVE_TYPES
    alerts = [e for e in out.events if e.extra["event_type"] == "alert"]
    assert {e.dst_ip for e in alerts} == {"192.168.1.129"}
    assert {e.action for e in alerts} == {"alert"}
    assert Counter(e.extra["category"] for e in alerts) == {
        "Misc Attack": 581, "Potentially Bad Traffic": 151, "Attempted Information Leak": 9,
        "Attempted Administrator Privilege Gain": 2, "Detection of a Network Scan": 2}
    assert sum(e.message == "ET SCAN Suspicious inbound to MSSQL port 1433" for e in alerts) == 131
    # logged 6-7 June 2021 at UTC+02:00; flows are dated by their start
    assert {e.timestamp.date().isoformat() for e in out.events} <= {"2021-06-06", "2021-06-07"}
    flows = [e for e in out.events if e.extra["event_type"] == "flow"]
    assert all(e.duration is not None and e.bytes_out is not None and e.packets_in is not None for e in flows)
    assert guess_format(lines[:50]).name == "suricata_eve"
