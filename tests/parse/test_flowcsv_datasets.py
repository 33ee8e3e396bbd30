"""The labelled flow-record parsers against the real datasets in shared/datasets, and their edge cases.

Counts come from each dataset's PROVENANCE.md; every row must parse (nothing quarantined), the label
counts must match exactly, and every feature must survive with the right type.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from pathlib import Path

import pytest

from netwarden.parse import ParseError, guess_format, parsers
from netwarden.parse.nsl_kdd import ATTACK_CATEGORIES, COLUMNS as KDD_COLUMNS
from netwarden.parse.unsw_nb15 import PARTITION_COLUMNS, RAW_COLUMNS

KDD_TRAIN_LABELS = {
    "normal": 67_343, "neptune": 41_214, "satan": 3_633, "ipsweep": 3_599, "portsweep": 2_931,
    "smurf": 2_646, "nmap": 1_493, "back": 956, "teardrop": 892, "warezclient": 890, "pod": 201,
    "guess_passwd": 53, "buffer_overflow": 30, "warezmaster": 20, "land": 18, "imap": 11, "rootkit": 10,
    "loadmodule": 9, "ftp_write": 8, "multihop": 7, "phf": 4, "perl": 3, "spy": 2,
}
UNSW_PART_A_LABELS = {
    "normal": 18_500, "Generic": 9_435, "Exploits": 5_566, "Fuzzers": 3_031, "DoS": 2_044,
    "Reconnaissance": 1_748, "Analysis": 338, "Backdoor": 291, "Shellcode": 189, "Worms": 22,
}


def _parse_file(name: str, path: Path) -> tuple[list, int]:
    parser = parsers()[name]()
    events, quarantined = [], 0
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        for line in fh:
            try:
                event = parser.parse_line(line.rstrip("\n"))
            except ParseError:
                quarantined += 1
                continue
            if event is not None:
                events.append(event)
    return events, quarantined


@pytest.fixture(scope="module")
def kdd_train(datasets: Path) -> list:
    events, quarantined = _parse_file("nsl_kdd", datasets / "nsl-kdd" / "KDDTrain+.txt.gz")
    assert quarantined == 0
    return events


def test_kdd_train_label_counts(kdd_train: list) -> None:
    assert len(kdd_train) == 125_973
    assert sum(KDD_TRAIN_LABELS.values()) == 125_973
    assert Counter(e.label for e in kdd_train) == KDD_TRAIN_LABELS
    categories = Counter(e.extra["attack_category"] for e in kdd_train)
    assert categories == {"normal": 67_343, "DoS": 45_927, "Probe": 11_656, "R2L": 995, "U2R": 52}


def test_kdd_train_features_are_complete_and_typed(kdd_train: list) -> None:
    first = kdd_train[0]  # 0,tcp,ftp_data,SF,491,0,...,normal,20
    assert (first.transport, first.app_protocol, first.tcp_flags, first.bytes_out, first.bytes_in) == \
        ("tcp", "ftp_data", "SF", 491, 0)
    assert first.timestamp is None and first.src_ip is None and first.raw is None
    for event in kdd_train[:2000]:
        vector = [event.extra[c] for c in KDD_COLUMNS]  # the ML stage rebuilds the vector like this
        assert len(vector) == 41
        for column, value in zip(KDD_COLUMNS, vector):
            if column in ("protocol_type", "service", "flag"):
                assert isinstance(value, str)
            elif column.endswith("_rate"):
                assert isinstance(value, float) and 0.0 <= value <= 1.0
            else:
                assert type(value) is int and value >= 0
        assert 0 <= event.extra["difficulty"] <= 21


def test_kdd_train_20_percent(datasets: Path) -> None:
    events, quarantined = _parse_file("nsl_kdd", datasets / "nsl-kdd" / "KDDTrain+_20Percent.txt.gz")
    assert quarantined == 0
    assert len(events) == 25_192


def test_unsw_part_a(datasets: Path) -> None:
    events, quarantined = _parse_file("unsw_nb15", datasets / "unsw-nb15" / "UNSW_NB15_part-A.csv.gz")
    assert quarantined == 0
    assert len(events) == 41_164
    assert Counter(e.label for e in events) == UNSW_PART_A_LABELS
    assert sum(UNSW_PART_A_LABELS.values()) == 41_164
    for event in events[:2000]:
        assert set(event.extra) == set(PARTITION_COLUMNS)
        assert event.extra["label"] == (0 if event.label == "normal" else 1)
        assert type(event.extra["dur"]) is float and type(event.extra["sbytes"]) is int
        assert event.bytes_out == event.extra["sbytes"] and event.packets_in == event.extra["dpkts"]


def test_unsw_official_file_shape_bom_and_crlf(datasets: Path) -> None:
    """The official partition files have a UTF-8 BOM and CRLF line endings."""
    with gzip.open(datasets / "unsw-nb15" / "UNSW_NB15_part-A.csv.gz", "rt", encoding="utf-8") as fh:
        lines = [next(fh).rstrip("\n") for _ in range(5)]
    official = ["\ufeff" + lines[0] + "\r"] + [line + "\r" for line in lines[1:]]
    assert guess_format(official).name == "unsw_nb15"
    parser = parsers()["unsw_nb15"]()
    assert parser.parse_line(official[0]) is None
    events = [parser.parse_line(line) for line in official[1:]]
    assert [e.extra["id"] for e in events] == [int(line.split(",")[0]) for line in lines[1:]]
    assert all(e.extra["label"] in (0, 1) for e in events)


def test_unsw_headerless_chunks_use_the_official_layouts() -> None:
    parser = parsers()["unsw_nb15"]()
    row = ("1,0.000011,udp,-,INT,2,0,496,0,90909.0902,254,0,180363632,0,0,0,0.011,0,0,0,0,0,0,0,0,0,0,"
           "248,0,0,0,2,2,1,1,1,2,0,0,0,1,2,0,Normal,0")
    event = parser.parse_line(row)
    assert list(event.extra) == list(PARTITION_COLUMNS) and event.label == "normal"
    raw = ("59.166.0.0,1390,149.171.126.6,53,udp,CON,0.001055,132,164,31,29,0,0,dns,500473.9375,621800.9375,"
           "2,2,0,0,0,0,66,82,0,0,0,0,1421927414,1421927414,0.017,0.013,0,0,0,0,0,0,0,0,3,7,1,3,1,1,1,,0")
    event = parser.parse_line(raw)
    assert list(event.extra) == list(RAW_COLUMNS)
    assert (event.src_ip, event.dst_port, event.timestamp.year) == ("59.166.0.0", 53, 2015)


def test_kdd_category_table_covers_the_test_set_attacks() -> None:
    test_only = ["apache2", "mailbomb", "processtable", "udpstorm", "mscan", "saint", "httptunnel", "named",
                 "sendmail", "snmpgetattack", "snmpguess", "worm", "xlock", "xsnoop", "ps", "sqlattack",
                 "xterm"]
    assert all(name in ATTACK_CATEGORIES for name in test_only + list(KDD_TRAIN_LABELS))
    assert set(ATTACK_CATEGORIES.values()) == {"normal", "DoS", "Probe", "R2L", "U2R"}


def test_kdd_crlf_and_events_serialise() -> None:
    parser = parsers()["nsl_kdd"]()
    line = ("0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,"
            "150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20")
    event = parser.parse_line(line + "\r")
    assert event.extra["difficulty"] == 20
    assert json.loads(json.dumps(event.to_dict()))["extra"]["dst_host_rerror_rate"] == 0.05
    assert math.isclose(event.extra["dst_host_same_srv_rate"], 0.17)


@pytest.mark.parametrize("name,lines", [
    ("nsl_kdd", ["0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,"
                 "0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal."]),
    ("unsw_nb15", [",".join(PARTITION_COLUMNS)]),
    ("unsw_nb15", ["59.166.0.0,1390,149.171.126.6,53,udp,CON,0.001055,132,164,31,29,0,0,dns,500473.9375,"
                   "621800.9375,2,2,0,0,0,0,66,82,0,0,0,0,1421927414,1421927414,0.017,0.013,0,0,0,0,0,0,0,0,"
                   "3,7,1,3,1,1,1,,0"]),
])
def test_sniffing_tells_the_flow_formats_apart(name: str, lines: list[str]) -> None:
    assert guess_format(lines).name == name


def test_argus_binetflow_is_none_of_ours(datasets: Path) -> None:
    lines = (datasets / "argus-flows" / "test11-portscan.binetflow").read_text().splitlines()[:20]
    for name in ("nsl_kdd", "unsw_nb15", "cicflowmeter", "netwarden"):
        if name in parsers():
            assert parsers()[name].sniff(lines) < 0.5, name


CIC_2018_HEADER = ("Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,Tot Bwd Pkts,TotLen Fwd Pkts,"
                   "TotLen Bwd Pkts,Flow Byts/s,Flow Pkts/s,Init Bwd Win Byts,Label")


@pytest.mark.parametrize("header", [
    "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Flow Duration,"
    " Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets,"
    " Total Length of Bwd Packets, Label",
    " Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets,"
    "Total Length of Fwd Packets, Label",
    CIC_2018_HEADER,
    "src_ip,dst_ip,src_port,dst_port,protocol,timestamp,flow_duration,flow_byts_s,tot_fwd_pkts,tot_bwd_pkts",
])
def test_cic_headers_are_sniffed(header: str) -> None:
    assert guess_format([header]).name == "cicflowmeter"
    for name in ("nsl_kdd", "unsw_nb15", "netwarden"):
        assert parsers()[name].sniff([header]) < 0.5


def test_cic_local_time_rates_and_negative_values() -> None:
    from zoneinfo import ZoneInfo

    from netwarden.parse import ParseContext

    # CIC-IDS2017/2018 were captured in New Brunswick: Atlantic time
    parser = parsers()["cicflowmeter"](ParseContext(local_tz=ZoneInfo("America/Halifax")))
    assert parser.parse_line(CIC_2018_HEADER) is None
    event = parser.parse_line("50657,6,01/03/2018 09:56:59,0,2,0,0,0,NaN,Infinity,-1,Benign")
    assert event.timestamp.isoformat() == "2018-03-01T13:56:59+00:00"  # AST is UTC-4
    assert event.extra["Flow Byts/s"] is None and event.extra["Flow Pkts/s"] is None
    assert event.extra["Init Bwd Win Byts"] == -1 and event.duration == 0.0
    negative = parser.parse_line("443,6,01/03/2018 09:56:59,-12,2,0,0,0,0,0,-1,Benign")
    assert negative.duration is None and negative.extra["Flow Duration"] == -12
    blank = parser.parse_line("443,6,01/03/2018 09:56:59,12,2,,0,0,0.5,0,-1,Benign")
    assert blank.packets_in is None and blank.extra["Tot Bwd Pkts"] is None
    assert blank.extra["Flow Byts/s"] == 0.5


def test_cic_pandas_index_and_duplicate_columns() -> None:
    parser = parsers()["cicflowmeter"]()
    parser.parse_line(",Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,"
                      "Fwd Header Length,Fwd Header Length,Label")
    event = parser.parse_line("7,a-b,10.0.0.1,5000,10.0.0.2,80,6,2020-10-06 17:32:56,1000000,20,40,attack")
    assert "" not in event.extra and event.extra["Fwd Header Length.1"] == 40
    assert (event.src_ip, event.dst_port, event.duration, event.label) == ("10.0.0.1", 80, 1.0, "attack")
    assert event.timestamp.isoformat() == "2020-10-06T17:32:56+00:00"
