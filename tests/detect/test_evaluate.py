"""Scoring detections against ground truth, and the `netwarden evaluate` command."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.evaluate import expected_kind, is_benign, score
from netwarden.records import Event

T = datetime(2026, 11, 21, tzinfo=timezone.utc)


def ev(label: str | None = None, src: str = "192.0.2.1") -> Event:
    return Event(timestamp=T, source_kind="flow_csv", src_ip=src, label=label)


def test_labels_map_to_alert_kinds() -> None:
    assert expected_kind("portsweep") == "port_scan" and expected_kind("Reconnaissance") == "port_scan"
    assert expected_kind("neptune") == "dos" and expected_kind("DoS") == "dos"
    assert expected_kind("guess_passwd") == "brute_force" and expected_kind("SSH-Patator") == "brute_force"
    assert expected_kind("Web Attack - Sql Injection") == "web_attack"
    assert expected_kind("buffer_overflow") is None
    assert is_benign("normal") and is_benign("BENIGN") and is_benign("flow=Background-UDP-Established")
    assert not is_benign("flow=From-Botnet-V42") and not is_benign("Malicious")


def test_per_kind_and_overall_counts() -> None:
    scan = [ev("portsweep") for _ in range(4)]
    dos = [ev("neptune") for _ in range(2)]
    benign = [ev("normal") for _ in range(10)]
    unknown = [ev(None)]
    flagged = {id(scan[0]): {"port_scan"}, id(scan[1]): {"port_scan"}, id(scan[2]): {"dos"},
               id(dos[0]): {"dos"}, id(benign[0]): {"port_scan"}, id(unknown[0]): {"dos"}}
    result = score(scan + dos + benign + unknown, flagged)
    rows = {r["kind"]: r for r in result.rows()}
    assert (rows["port_scan"]["tp"], rows["port_scan"]["fn"], rows["port_scan"]["fp"], rows["port_scan"]["tn"]) \
        == (2, 2, 1, 9)
    assert (rows["dos"]["tp"], rows["dos"]["fn"], rows["dos"]["fp"]) == (1, 1, 0)
    assert (rows["any"]["tp"], rows["any"]["fn"], rows["any"]["fp"], rows["any"]["tn"]) == (4, 2, 1, 9)
    assert rows["any"]["recall"] == 4 / 6 and rows["any"]["precision"] == 0.8 and rows["any"]["fpr"] == 0.1
    assert result.unlabelled_alert_kinds == {"dos": 1} and result.labelled == 16 and result.attacks == 6


def test_attackers_give_ground_truth_to_unlabelled_input() -> None:
    a, b = ev(src="203.0.113.5"), ev(src="192.0.2.9")
    result = score([a, b], {id(a): {"port_scan"}}, attackers={"203.0.113.5": "port_scan"})
    assert result.by_kind["port_scan"].tp == 1 and result.by_kind["port_scan"].tn == 1


def test_evaluate_command_on_labelled_flows(tmp_path, datasets) -> None:  # type: ignore[no-untyped-def]
    path = datasets / "argus-flows" / "test5-mixed.binetflow"
    result = CliRunner().invoke(cli, ["evaluate", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["events"] == 299 and data["labelled"] == 299
    assert data["attacks"] == 299 - 21  # 21 flow=Background* rows are benign (see PROVENANCE)
    any_row = next(r for r in data["kinds"] if r["kind"] == "any")
    assert any_row["tp"] + any_row["fn"] == data["attacks"] and any_row["fp"] + any_row["tn"] == 21
    table = CliRunner().invoke(cli, ["evaluate", str(path)]).output
    assert "precision" in table and "recall" in table and "FP rate" in table
    bad = CliRunner().invoke(cli, ["evaluate", str(path), "--attacker", "not-an-ip"])
    assert bad.exit_code == 2 and "not an IP address" in bad.output


def test_an_alert_about_a_source_covers_its_events_in_time() -> None:
    from datetime import timedelta

    from netwarden.evaluate import attribute
    from netwarden.records import Alert, Severity

    early, late, other = ev(src="203.0.113.5"), ev(src="203.0.113.5"), ev(src="192.0.2.9")
    late.timestamp = T + timedelta(days=2)
    alert = Alert(kind="port_scan", subkind="vertical", severity=Severity.MEDIUM, confidence=0.9, factors=[],
                  source="203.0.113.5", target=None, first_seen=T, last_seen=T, count=1, evidence={},
                  recommendation="", detector="port_scan")
    flagged = attribute([early, late, other], [alert], {}, timedelta(hours=1))
    assert flagged == {id(early): {"port_scan"}}
