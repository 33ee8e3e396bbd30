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


# --- Argus --------------------------------------------------------------------------------------------

ARGUS_RECORDS = {  # data rows below the header line
    "test11-portscan.binetflow": 66,
    "test3-mixed.binetflow": 89,
    "test4-malicious.binetflow": 394,
    "test5-mixed.binetflow": 300,
}


@pytest.mark.parametrize("filename", sorted(ARGUS_RECORDS))
def test_argus_files(datasets: Path, filename: str) -> None:
    lines = _lines(datasets / "argus-flows" / filename)
    out = _run("argus_binetflow", lines)
    assert not out.quarantined, list(out.quarantined)[:5]
    # test5's first row is an Argus management record: a row, but no event (see netwarden/parse/argus.py)
    management = 1 if filename == "test5-mixed.binetflow" else 0
    assert len(out.events) == ARGUS_RECORDS[filename] - management
    assert out.empty == 1 + management  # the header line (+ the man record)
    assert all(e.source_kind == "argus" and e.timestamp is not None for e in out.events)
    assert guess_format(lines[:50]).name == "argus_binetflow"


def test_argus_labels_and_quirks(datasets: Path) -> None:
    test5 = _run("argus_binetflow", _lines(datasets / "argus-flows" / "test5-mixed.binetflow"))
    labels = Counter(e.label for e in test5.events)
    assert labels["flow=Malware-UDP-DNS"] == 197 and labels["flow=Malware-TCP"] == 80
    assert sum(n for label, n in labels.items() if label.startswith("flow=Background")) == 21
    assert labels == {"flow=Malware-UDP-DNS": 197, "flow=Malware-TCP": 80, "flow=Background-UDP-Attempt": 8,
                      "flow=Background-UDP-DNS": 5, "flow=Background": 4, "flow=Background-ARP": 2,
                      "flow=Background-UDP-Attempt-NetBIOS": 1, "flow=Background-ICMP": 1,
                      "flow=TCP-Established-To-Microsoft-7": 1}
    llc = [e for e in test5.events if e.transport == "llc"]
    assert len(llc) == 1 and llc[0].src_ip is None and llc[0].extra["src_mac"] == "00:00:00:00:00:00"
    for name in ("test11-portscan.binetflow", "test3-mixed.binetflow", "test4-malicious.binetflow"):
        assert all(e.label is None for e in _run("argus_binetflow", _lines(datasets / "argus-flows" / name)).events)
    scan = _run("argus_binetflow", _lines(datasets / "argus-flows" / "test11-portscan.binetflow")).events
    syn = [e for e in scan if e.tcp_flags == "S0"]
    assert len(syn) == 20 and {e.dst_ip for e in syn} == {"14.1.11.113"} and len({e.dst_port for e in syn}) == 20
    echo = [e for e in scan if e.extra["state"] == "ECO"]
    assert {e.src_port for e in echo} == {8}  # 0x0008, echo request
    test4 = _run("argus_binetflow", _lines(datasets / "argus-flows" / "test4-malicious.binetflow")).events
    assert all(e.packets_out is None and e.extra["tot_pkts"] > 0 for e in test4)  # no SrcPkts column
    assert Counter(e.dst_port for e in test4 if e.transport == "tcp")[81] == 128
    assert Counter(e.dst_port for e in test4 if e.transport == "tcp")[23] == 90


# --- sniffing -----------------------------------------------------------------------------------------

OTHER_FORMATS = {
    "access_log": ['83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 203023 "-" "Mozilla/5.0"'],
    "syslog": ["Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
               "<34>1 2026-01-01T00:00:00Z host app - - - message"],
    "csv": ["srcip,sport,dstip,dsport,proto,state,dur,sbytes,dbytes", "59.166.0.0,1390,149.171.126.6,53,udp,CON,0.001,132,164"],
    "cic_csv": ["Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp",
                "192.168.10.5-104.16.207.165-54865-443-6,104.16.207.165,443,192.168.10.5,54865,6,7/7/2017 3:30"],
    "netwarden_jsonl": ['{"timestamp": "2026-01-01T00:00:00Z", "source_kind": "suricata", "src_ip": "10.0.0.1", '
                        '"extra": {"event_type": "alert"}}'],
    "generic_json": ['{"time": "2026-01-01T00:00:00Z", "level": "info", "msg": "started"}', '[1, 2, 3]'],
    "zeek_dns_json": ['{"ts":1700828217.3,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5353,"id.resp_h":"10.0.0.2",'
                      '"id.resp_p":53,"proto":"udp","query":"example.org"}'],
}


@pytest.mark.parametrize("sample", sorted(OTHER_FORMATS))
@pytest.mark.parametrize("name", ["zeek_conn", "suricata_eve", "argus_binetflow"])
def test_flow_parsers_do_not_claim_other_formats(name: str, sample: str) -> None:
    assert get_parser(name).sniff(OTHER_FORMATS[sample]) < 0.5


def test_zeek_and_eve_json_are_told_apart(datasets: Path) -> None:
    zeek = _lines(datasets / "zeek-conn-logs" / "test9-mixed_conn.log")[:50]
    eve = _lines(datasets / "suricata-eve" / "test6-malicious.suricata.json.gz")[:50]
    assert get_parser("zeek_conn").sniff(zeek) > 0.9 and get_parser("suricata_eve").sniff(zeek) == 0
    assert get_parser("suricata_eve").sniff(eve) > 0.9 and get_parser("zeek_conn").sniff(eve) == 0
    tsv = _lines(datasets / "zeek-conn-logs" / "test10-mixed_conn.log")[:50]
    assert get_parser("zeek_conn").sniff(tsv) == 1.0 and get_parser("argus_binetflow").sniff(tsv) < 0.5
