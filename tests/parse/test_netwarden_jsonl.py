"""The ``netwarden`` JSON-lines format: a lossless round trip of Event.to_dict(), and strict validation."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwarden.parse import ParseError, guess_format, parsers
from netwarden.records import EVENT_FIELDS, Event, SourceKind


def _roundtrip(event: Event) -> Event | None:
    return parsers()["netwarden"]().parse_line(json.dumps(event.to_dict()))


def test_roundtrip_of_an_event_with_every_field() -> None:
    event = Event(
        timestamp=datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2))),
        source_kind=SourceKind.ACCESS_LOG, observer="web1", src_ip="2001:db8::7", src_port=51234,
        dst_ip="192.0.2.10", dst_port=443, transport="tcp", app_protocol="http", bytes_out=512, bytes_in=0,
        packets_out=4, packets_in=3, duration=0.25, tcp_flags="SYN,ACK", action="allowed", http_method="GET",
        url="/index.php?id=1%27", http_status=500, user_agent='sqlmap/1.7 "quoted"', user="-",
        outcome="failure",
        message="línea con ünïcode", raw="the original line", label="attack",
        extra={"nested": {"list": [1, 2.5, None, "x"]}, "flag": True},
    )
    assert all(getattr(event, f) not in (None, {}) for f in EVENT_FIELDS)
    assert _roundtrip(event) == event


def test_roundtrip_of_what_the_flow_parsers_produce(datasets: Path) -> None:
    """Events from real dataset rows survive export and import unchanged (flow features included)."""
    samples = []
    kdd = parsers()["nsl_kdd"]()
    with gzip.open(datasets / "nsl-kdd" / "KDDTrain+.txt.gz", "rt") as fh:
        samples += [kdd.parse_line(next(fh).rstrip("\n")) for _ in range(50)]
    unsw = parsers()["unsw_nb15"]()
    with gzip.open(datasets / "unsw-nb15" / "UNSW_NB15_part-A.csv.gz", "rt") as fh:
        unsw.parse_line(next(fh).rstrip("\n"))
        samples += [unsw.parse_line(next(fh).rstrip("\n")) for _ in range(50)]
    for event in samples:
        event.timestamp = datetime(2026, 1, 1, tzinfo=timezone.utc)  # as ingest stamps it
        assert _roundtrip(event) == event


def test_a_timeless_event_roundtrips_with_no_timestamp() -> None:
    event = Event(timestamp=None, source_kind=SourceKind.FLOW_CSV, label="normal")
    assert _roundtrip(event) == event


def test_sniffing_against_zeek_and_suricata_json(datasets: Path) -> None:
    ours = [json.dumps(Event(timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc), source_kind="auth",
                             src_ip=f"192.0.2.{i}", outcome="failure").to_dict()) for i in range(1, 20)]
    assert guess_format(ours).name == "netwarden"
    sniff = parsers()["netwarden"].sniff
    zeek = (datasets / "zeek-conn-logs" / "port-scans_vertical_conn.log").read_text().splitlines()[:20]
    with gzip.open(datasets / "suricata-eve" / "test6-malicious.suricata.json.gz", "rt") as fh:
        eve = [next(fh).rstrip("\n") for _ in range(20)]
    assert sniff(zeek) == 0.0 and sniff(eve) == 0.0
    assert sniff(ours) > 0.9


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: (st.lists(inner, max_size=4)
                                   | st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                    max_leaves=12),
       st.sampled_from(EVENT_FIELDS))
def test_any_json_value_in_any_field_is_an_event_or_a_parse_error(value: object, field: str) -> None:
    line = json.dumps({"source_kind": "auth", field: value})
    try:
        event = parsers()["netwarden"]().parse_line(line)
    except ParseError:
        return
    assert event is not None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_raises_anything_but_parse_error(text: str) -> None:
    for name in ("netwarden", "nsl_kdd", "unsw_nb15", "cicflowmeter"):
        parser = parsers()[name]()
        for line in (text, "{" + text, text.replace(" ", ",")):
            try:
                parser.parse_line(line)
            except ParseError:
                pass


def test_deep_nesting_and_huge_numbers_are_parse_errors() -> None:
    parser = parsers()["netwarden"]()
    for line in ("[" * 100_000, '{"source_kind": "auth", "extra": ' + "[" * 100_000 + "]" * 100_000 + "}",
                 '{"source_kind": "flow_csv", "duration": ' + "9" * 400 + "}",
                 '{"source_kind": "flow_csv", "bytes_in": ' + "9" * 400 + "}",
                 '{"source_kind": "flow_csv", "duration": 1e400}',
                 '{"timestamp": "9999-12-31T23:59:59-05:00", "source_kind": "auth"}'):
        with pytest.raises(ParseError):
            parser.parse_line(line)
