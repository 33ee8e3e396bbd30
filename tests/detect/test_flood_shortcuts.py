"""The flood's shortcuts give what the general code gave: an alert's sample events as ``Event.to_dict`` without
``extra``; evidence lists merged item by item even when a finding repeats them; the web attack detector's
clock over naive and aware times; the responder's address ranges; the stored statuses read on the driver.
(The whole result is compared in test_engine_reference.py; these cases are the edges a flood does not reach.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from netwarden.detect.alert_merge import EVIDENCE_LIST_LIMIT, merge_evidence, sample
from netwarden.detect.web_attack import _latest
from netwarden.networks import block_target
from netwarden.records import Alert, AlertStatus, Event, Finding, Severity
from netwarden.store import alerts as alert_store
from netwarden.store.addresses import network_range, range_of

T = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def _sample_by_to_dict(event: Event) -> dict:
    out = event.to_dict()
    out.pop("extra", None)
    if out.get("raw") and len(out["raw"]) > 2000:
        out["raw"] = out["raw"][:2000] + "..."
    return out


@pytest.mark.parametrize("event", [
    Event(timestamp=T, source_kind="access_log", src_ip="203.0.113.7", url="/?id=1'", http_status=200,
          extra={"http_version": "HTTP/1.1"}, raw="x" * 2500),
    Event(timestamp=datetime(2026, 11, 20, 8, 0), source_kind="syslog", message="naive time", raw=""),
    Event(timestamp=None, source_kind="zeek", duration=0.0, bytes_out=0, extra={}),
])
def test_a_sample_is_the_event_without_extra(event: Event) -> None:
    assert sample(event) == _sample_by_to_dict(event)
    assert list(sample(event)) == list(_sample_by_to_dict(event))  # the same order of keys (the stored JSON)


def _finding(evidence: dict, samples: list[Event] = ()) -> Finding:  # type: ignore[assignment]
    return Finding(kind="web_attack", detector="web_attack", severity=Severity.HIGH, factors=[], recommendation="",
                   first_seen=T, last_seen=T, source="203.0.113.7", evidence=evidence, samples=list(samples))


def _merge_one_by_one(old: dict, finding: Finding) -> dict:
    """The merge as it was written before the flood's shortcuts."""
    out = dict(old) if old else dict(finding.evidence)
    for key, value in finding.evidence.items() if old else ():
        merged = out.get(key)
        if isinstance(value, list) and isinstance(merged, list):
            merged = list(merged)
            for item in value:
                if item not in merged:
                    merged.append(item)
            out[key] = merged if len(merged) <= EVIDENCE_LIST_LIMIT else merged[-EVIDENCE_LIST_LIMIT:]
        else:
            out[key] = value
    samples = out.get("samples", [])
    if finding.samples and len(samples) < 5:
        samples = list(samples) + [sample(e) for e in finding.samples][:5 - len(samples)]
    elif not isinstance(samples, list):
        samples = list(samples)
    out["samples"] = samples
    return out


@pytest.mark.parametrize("old, new", [
    ({}, {"urls": ["/a"], "requests": 1}),
    ({"urls": ["/a", "/b"], "requests": 1}, {"urls": ["/a", "/b"], "requests": 2}),  # repeated: kept as it is
    ({"urls": ["/a"]}, {"urls": ["/b", "/a"]}),
    ({"urls": [str(i) for i in range(25)]}, {"urls": ["0"]}),  # equal items, a list longer than the limit: cut
    ({"urls": [str(i) for i in range(25)]}, {"urls": [str(i) for i in range(25)]}),
    ({"urls": "one"}, {"urls": ["/a"]}),  # not a list: replaced
    ({"codes": {"200": 1}}, {"codes": {"404": 1}}),
    ({"x": [float("nan")]}, {"x": [float("nan")]}),  # unequal to itself: added, as before
    ({"samples": ({"a": 1},)}, {"urls": []}),  # samples that are no list become one
])
def test_evidence_merges_as_item_by_item(old: dict, new: dict) -> None:
    finding = _finding(new, [Event(timestamp=T, source_kind="access_log", url="/a")])
    got, want = merge_evidence(old, finding), _merge_one_by_one(old, finding)
    assert repr(got) == repr(want)  # repr: NaN compares unequal to itself
    held = {k: v for k, v in old.items() if isinstance(v, list)}
    assert all(old[k] is v for k, v in held.items())  # the alert's lists as stored are never changed in place


def test_a_list_that_gains_nothing_is_not_copied() -> None:
    urls = ["/a", "/b"]
    assert merge_evidence({"urls": urls}, _finding({"urls": ["/b"]}))["urls"] is urls


@pytest.mark.parametrize("times, latest", [
    ([T, T + timedelta(seconds=5), None, T], None),
    ([datetime(2026, 11, 20, 9, 0), datetime(2026, 11, 20, 8, 0)], None),  # naive: UTC
    ([datetime(2026, 11, 20, 9, 0), T + timedelta(hours=2)], T),  # naive and aware together
    ([T.astimezone(timezone(timedelta(hours=2))), T], None),  # the same instant: the first one
    ([T], T + timedelta(hours=1)),  # older than what the detector saw: kept
    ([None], T),
    ([], None),
])
def test_the_latest_time_as_compared_in_turn(times: list, latest: datetime | None) -> None:
    events = [Event(timestamp=t, source_kind="access_log") for t in times]
    want = latest
    for e in events:
        ts = e.timestamp
        if ts is not None:
            ts = ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)
            if want is None or ts > want:
                want = ts
    got = _latest(events, latest)
    assert got == want and (got is None or got.tzinfo == want.tzinfo)


@pytest.mark.parametrize("source", ["203.0.113.7", "10.0.0.0/8", "2001:db8::1", "2001:db8:1:2::/64", "::ffff:1.2.3.4"])
def test_a_block_target_range_is_its_network_range(source: str) -> None:
    net = block_target(source, 64)
    assert range_of(net) == network_range(str(net))


def test_statuses_read_as_stored(db) -> None:  # type: ignore[no-untyped-def]
    made = []
    with db.engine.begin() as conn:
        for n in range(3):
            alert = Alert(kind="web_attack", subkind="sqli", severity=Severity.HIGH, confidence=0.5, factors=[],
                          source=f"203.0.113.{n}", target=None, first_seen=T, last_seen=T, count=1, evidence={},
                          recommendation="", detector="web_attack")
            alert_store.save_alert(conn, alert)
            made.append(alert.id)
    with db.engine.begin() as conn:
        alert_store.set_status(conn, made[1], AlertStatus.RESOLVED)
        found = alert_store.statuses(conn, [*made, max(made) + 100])  # one that does not exist: left out
    assert found == {made[0]: AlertStatus.NEW, made[1]: AlertStatus.RESOLVED, made[2]: AlertStatus.NEW}
    assert all(type(s) is AlertStatus for s in found.values())


def test_a_key_seen_again_at_the_same_time_is_still_the_most_recent() -> None:
    from netwarden.detect.windows import KeyedState

    state: KeyedState[list] = KeyedState(list, idle=timedelta(minutes=1), max_keys=2)
    a = state.get("a", T)
    state.get("b", T)
    assert state.get("a", T) is a  # the same time object: kept, and moved to the end
    state.get("c", T + timedelta(seconds=1))  # full: the least recently seen ("b") goes
    assert [k for k, _, _ in state.items()] == ["a", "c"] and state.evicted == 1
    assert state.prune(T + timedelta(seconds=61)) == 1 and [k for k, _, _ in state.items()] == ["c"]


def test_a_source_evicted_within_its_batch_gets_no_finding() -> None:
    """The web attack detector builds a batch's findings from the states it folded the batch into, unless the
    table of sources was full and let one go meanwhile: then, as before, only the sources still held."""
    from netwarden.detect.web_attack import WebAttack

    detector = WebAttack({"max_sources": 2})
    events = [Event(timestamp=T + timedelta(seconds=n), source_kind="access_log", src_ip=f"203.0.113.{n}",
                    http_method="GET", url="/item.php?id=1%27%20OR%20%271%27%3D%271", http_status=200)
              for n in (1, 2, 3)]
    assert sorted(f.source for f in detector.process(events)) == ["203.0.113.2", "203.0.113.3"]
    assert detector.sources.evicted == 1
    detector = WebAttack({"max_sources": 3})
    assert sorted(f.source for f in detector.process(events)) == ["203.0.113.1", "203.0.113.2", "203.0.113.3"]


def test_range_of_any_network_is_its_network_range() -> None:
    import ipaddress
    import random

    rng = random.Random(14)
    nets = [ipaddress.IPv4Network((rng.randrange(1 << 32), rng.randint(0, 32)), strict=False) for _ in range(500)]
    nets += [ipaddress.IPv6Network((rng.randrange(1 << 128), rng.randint(0, 128)), strict=False) for _ in range(500)]
    assert all(range_of(net) == network_range(str(net)) for net in nets)
