"""Per-event features and windows of the sequence models (no training here: fast)."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from netwarden.learn.sequence_features import (
    UNSEEN,
    AccessLogEncoder,
    FlowEncoder,
    StepEncoder,
    encoder_for,
    path_features,
    seconds_since_previous,
    user_agent_category,
    window_index,
)
from netwarden.parse import ParseContext, get_parser
from netwarden.records import Event

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def request(ip: str, seconds: float, url: str = "/", status: int = 200, agent: str = "Mozilla/5.0",
            method: str = "GET", size: int | None = 1000) -> Event:
    return Event(timestamp=T0 + timedelta(seconds=seconds), source_kind="access_log", src_ip=ip,
                 http_method=method, url=url, http_status=status, user_agent=agent, bytes_in=size)


def nsl_kdd(datasets, n: int) -> list[Event]:
    parser = get_parser("nsl_kdd")(ParseContext())
    with gzip.open(datasets / "nsl-kdd" / "KDDTrain+_20Percent.txt.gz", "rt") as f:
        return [parser.parse_line(next(f).rstrip("\n")) for _ in range(n)]


def test_path_features_count_what_attacks_look_like():
    url = "/shop/item.php?id=1%27%20UNION%20SELECT%20pass&x=2"
    ext, (depth, length, has_query, params, suspicious, escapes) = path_features(url)
    assert (ext, depth, has_query, params) == ("php", 2.0, 1.0, 2.0)
    assert suspicious >= 2  # the quote and "union " after decoding
    assert escapes == 4 and length == len(url)
    assert path_features("/../../etc/passwd")[1][4] >= 2
    ext, (depth, _, has_query, params, suspicious, escapes) = path_features("/images/logo.PNG")
    assert (ext, depth, has_query, params, suspicious, escapes) == ("png", 2.0, 0.0, 0.0, 0.0, 0.0)
    assert path_features("http://example.org/a/b.js?x")[0] == "js"  # absolute-form request target
    assert path_features(None)[0] == "" and path_features("/.env")[0] == ""  # a dot file has no extension


@pytest.mark.parametrize("agent, category", [
    ("sqlmap/1.7.2#stable (https://sqlmap.org)", "scanner"), ("Mozilla/5.00 (Nikto/2.1.6)", "scanner"),
    ("curl/8.5.0", "script"), ("python-requests/2.31", "script"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
    ("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", "browser"), ("-", "none"), (None, "none"),
    ("UniversalFeedParser/4.2", "other")])
def test_user_agent_categories(agent, category):
    assert user_agent_category(agent) == category


def test_windows_follow_each_source_in_time_order():
    # two clients interleaved, one of them logged out of order
    events = [request("10.0.0.1", 0), request("10.0.0.2", 1), request("10.0.0.1", 5),
              request("10.0.0.2", 2), request("10.0.0.1", 3)]
    w = window_index(events, 3)
    assert w.tolist() == [[-1, -1, 0], [-1, -1, 1], [0, 4, 2], [-1, 1, 3], [-1, 0, 4]]
    gaps = seconds_since_previous(events)
    assert gaps.tolist() == [0.0, 0.0, 2.0, 1.0, 3.0]
    # times with and without a zone (a hand-made JSON file) cannot be ordered: arrival order, no crash
    mixed = [request("10.0.0.1", 5), Event(timestamp=datetime(2026, 1, 1), source_kind="access_log",
                                           src_ip="10.0.0.1", url="/")]
    assert window_index(mixed, 2).tolist() == [[-1, 0], [0, 1]]
    assert seconds_since_previous(mixed).tolist() == [0.0, 0.0]
    # without addresses (NSL-KDD rows): one group, file order
    rows = [Event(timestamp=None, source_kind="flow_csv") for _ in range(4)]
    assert window_index(rows, 2, by_source=False).tolist() == [[-1, 0], [0, 1], [1, 2], [2, 3]]


def test_access_log_encoder_on_the_real_log(datasets):
    parser = get_parser("access_log")(ParseContext())
    with gzip.open(datasets / "web-access-logs" / "apache_logs.gz", "rt", encoding="utf-8") as f:
        events = [e for line in list(f)[:2000] if (e := parser.parse_line(line.rstrip("\n")))]
    encoder = encoder_for(events)
    assert isinstance(encoder, AccessLogEncoder)
    encoder.fit(events)
    numeric, categorical = encoder.transform(events)
    assert numeric.shape == (len(events), len(AccessLogEncoder.NUMERIC)) and numeric.dtype == np.float32
    assert np.all(np.abs(numeric.mean(axis=0)) < 1e-3)  # standardised on the data it learned from
    assert categorical.shape == (len(events), len(AccessLogEncoder.CATEGORICAL)) and categorical.min() >= 2
    methods = encoder.vocabularies[encoder.categorical_names.index("http_method")]
    assert "GET" in methods
    # a method never seen in training is "unseen", not an error
    odd = request("192.0.2.9", 0, method="PROPFIND", agent="sqlmap/1.7")
    _, cat = encoder.transform([odd])
    assert cat[0, encoder.categorical_names.index("http_method")] == UNSEEN
    assert encoder.describe([odd])["user_agent_category"] == "scanner"
    later = request("192.0.2.9", 42.5, url="/a/b.php?x=1")
    described = encoder.describe([odd, later])  # the window: the client's earlier request, then this one
    assert described["seconds_since_previous"] == "42.5" and described["extension"] == "php"


def test_flow_encoder_learns_the_datasets_own_columns_and_never_the_answer(datasets):
    events = nsl_kdd(datasets, 500)
    encoder = encoder_for(events).fit(events)
    assert isinstance(encoder, FlowEncoder) and not encoder.by_source
    assert set(encoder.categorical_names) == {"protocol_type", "service", "flag"}
    assert "src_bytes" in encoder.numeric_names and len(encoder.numeric_names) == 38
    named = set(encoder.numeric_names + encoder.categorical_names)
    assert not {"label", "attack_category", "difficulty"} & named
    numeric, _ = encoder.transform(events)
    assert np.abs(numeric).max() <= 10.0  # clipped
    # the whole learned state is plain JSON and gives the same encoding back
    again = StepEncoder.from_state(json.loads(json.dumps(encoder.state())))
    for a, b in zip(encoder.transform(events), again.transform(events)):
        assert np.array_equal(a, b)


def test_flow_encoder_for_flows_without_dataset_columns():
    flows = [Event(timestamp=T0 + timedelta(seconds=i), source_kind="netflow", src_ip=f"10.0.0.{i % 3}",
                   dst_ip="10.0.1.1", dst_port=22 if i % 2 else 443, transport="tcp", bytes_out=100 * i,
                   bytes_in=50, packets_out=3, packets_in=2, duration=0.5) for i in range(30)]
    encoder = encoder_for(flows).fit(flows)
    assert encoder.by_source and "event.bytes_out" in encoder.numeric_names
    assert "event.dst_port" in encoder.categorical_names
    assert encoder.describe(flows[:4])["event.dst_port"] == "22"


@pytest.mark.parametrize("change, message", [
    ({"kind": "pickle"}, "unknown feature encoder"),
    ({"numeric_names": ["event.__class__"], "mean": [0.0], "std": [1.0], "log_scaled": [True]},
     "cannot read"),
    ({"mean": [float("nan")] * 5}, "finite"),
    ({"vocabularies": []}, "vocabularies"),
    ({"by_source": "yes"}, "by_source"),
])
def test_a_tampered_encoder_state_is_refused(change, message):
    flows = [Event(timestamp=None, source_kind="netflow", bytes_out=i, transport="udp") for i in range(10)]
    state = {**FlowEncoder().fit(flows).state(), **change}
    with pytest.raises(ValueError, match=message):
        StepEncoder.from_state(state)
