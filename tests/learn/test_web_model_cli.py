"""The tools around web-request models, end to end through the CLI: train from stored access-log events
(`--since`) or a file, `model evaluate` on a labelled file made by a real shop, `predict --all --json`
without a cap, knn_distance/lof on access-log events, and no NumPy warnings on the way."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.learn import data
from netwarden.simulate import webshop

pytestmark = [pytest.mark.datasets, pytest.mark.filterwarnings("error::RuntimeWarning")]  # no NumPy warnings


@pytest.fixture(scope="module")
def files(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Normal CSIC requests as an access log (for `ingest`), and a labelled shop log (normal + attacks)."""
    tmp = tmp_path_factory.mktemp("webcli")
    events = data.load_file(datasets / "csic-2010" / "normalTrafficTraining.txt.gz", limit=4_000).events
    train, held = events[:3_000], events[3_000:]
    lines = [f'198.51.100.{i % 200} - - [04/Dec/2026:10:{i // 60 % 60:02d}:{i % 60:02d} +0000] '
             f'"{e.http_method} {e.url}{"?" + e.extra["body"] if e.extra.get("body") else ""} HTTP/1.1" 200 512 '
             f'"-" "Mozilla/5.0"' for i, e in enumerate(train)]
    (tmp / "access.log").write_text("\n".join(lines) + "\n")
    shapes = webshop.shapes_of(train)
    with webshop.Shop(tmp / "labelled.jsonl") as shop:
        webshop.send(shop.url, webshop.shapes_of(held[:900]))
        for family in ("probe", "xss", "oversize"):
            shop.label = family
            webshop.send(shop.url, webshop.attacks(family, shapes, 40, seed=2))
    return {"access": tmp / "access.log", "labelled": tmp / "labelled.jsonl", "dir": tmp}


def _runner(db: Path):  # type: ignore[no-untyped-def]
    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, ["--db", f"sqlite:///{db}", *args])
        assert result.exit_code == code, result.output
        return result.output
    return run


def test_train_on_stored_events_then_evaluate(files: dict[str, Path], tmp_path: Path) -> None:
    run = _runner(tmp_path / "nw.db")
    run("ingest", str(files["access"]))
    output = run("model", "train", "-a", "http_profile", "--since", "36500d", "--name", "shop")
    assert "read 3,000 rows from stored events since 36500d" in output
    assert "held back to calibrate" in output
    report = json.loads(run("model", "evaluate", "shop", "--data", str(files["labelled"]), "--json"))
    assert report["rows"] == 1_020 and report["confusion"]["matrix"][0][0] + report["confusion"]["matrix"][0][1] == 900
    assert report["fpr"] <= 0.03 and report["recall"] >= 0.9
    assert set(report["by_label"]) == {"normal", "probe", "xss", "oversize"}
    assert report["predict_seconds"] > 0
    rows = tmp_path / "rows.csv"
    text = run("model", "evaluate", "shop:1", "--data", str(files["labelled"]), "--rows", str(rows))
    assert "true \\ predicted" in text and "oversize" in text and "testing" in text
    table = list(csv.DictReader(io.StringIO(rows.read_text())))
    assert len(table) == 1_020 and table[0].keys() >= {"row", "label", "truth", "score", "alert", "explanation"}
    flagged = [r for r in table if r["alert"] == "yes" and r["truth"] == "oversize"]
    assert flagged and "characters, normal ≤" in flagged[0]["explanation"]
    unlabelled = run("model", "evaluate", "shop", "--data", str(files["access"]), code=2)
    assert "carry no label" in unlabelled


def test_predict_all_json_prints_every_row(files: dict[str, Path], tmp_path: Path) -> None:
    run = _runner(tmp_path / "nw.db")
    run("model", "train", "-a", "http_profile", "--data", str(files["labelled"]), "--name", "p")
    lines = run("model", "predict", "p", "--data", str(files["labelled"]), "--all", "--json").splitlines()
    assert len(lines) == 1_020 and json.loads(lines[-1])["row"] == 1_020
    # a read limit is said, on stderr: the JSON lines stay rows only
    capped = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'nw.db'}", "model", "predict", "p", "--data",
                                      str(files["labelled"]), "--all", "--json", "--limit", "100"])
    assert capped.exit_code == 0 and len(capped.stdout.splitlines()) == 100
    assert "stopped at --limit 100 records" in capped.stderr
    assert "stopped at" not in run("model", "predict", "p", "--data", str(files["labelled"]))


@pytest.mark.parametrize("algorithm", ["knn_distance", "lof", "isolation_forest"])
def test_neighbour_models_on_access_log_events_load_and_activate(files: dict[str, Path], tmp_path: Path,
                                                                 algorithm: str) -> None:
    run = _runner(tmp_path / "nw.db")
    output = run("model", "train", "-a", algorithm, "--data", str(files["access"]), "--name", "n", "--activate")
    assert "active" in output
    shown = json.loads(run("model", "show", "n", "--json"))
    assert shown["active"] is True
    model_json = json.loads((tmp_path / "netwarden-models" / "n" / "v1" / "model.json").read_text())
    assert {"url_length", "query_params", "url_special_chars"} <= set(model_json["features"])


def test_operating_point_and_drift_warning(files: dict[str, Path], tmp_path: Path) -> None:
    run = _runner(tmp_path / "nw.db")
    run("ingest", str(files["access"]))
    run("model", "train", "-a", "http_profile", "--since", "36500d", "--name", "shop")
    shown = run("model", "show", "shop", "--recent", "36500d")
    assert "calibration:" in shown and "warning" not in shown
    assert json.loads(run("model", "show", "shop", "--recent", "36500d", "--json"))["drift"]["warning"] is None
    assert "threshold 0.9500 (from the model's calibration" in run("model", "threshold", "shop", "--fpr", "0.05")
    chosen = run("model", "threshold", "shop", "--precision", "0.99", "--data", str(files["labelled"]))
    assert "precision 1.0000" in chosen or "precision 0.99" in chosen
    assert "95 % interval" in chosen
    assert "needs labelled data" in run("model", "threshold", "shop", "--precision", "0.9", code=2)
    assert "one of VALUE" in run("model", "threshold", "shop", code=2)
    run("model", "threshold", "shop", "--fpr", "0.01")
    # then the site is probed: recent traffic is flagged far more often than calibrated
    probes = [f'203.0.113.5 - - [04/Dec/2026:11:00:{i % 60:02d} +0000] "GET /tienda1/backup{i}.zip HTTP/1.1" 404 9 '
              '"-" "Mozilla/5.0"' for i in range(300)]
    (tmp_path / "probes.log").write_text("\n".join(probes) + "\n")
    run("ingest", str(tmp_path / "probes.log"))
    drifted = run("model", "show", "shop", "--recent", "36500d")
    assert "warning: the model flags" in drifted and "calibrated" in drifted


def test_live_counts_of_an_active_model_show_drift_hour_by_hour(files: dict[str, Path], tmp_path: Path) -> None:
    run = _runner(tmp_path / "nw.db")
    run("model", "train", "-a", "http_profile", "--data", str(files["access"]), "--name", "shop", "--activate")
    # ordinary traffic at 09:xx while the model runs live: counted, not drifting
    ordinary = files["access"].read_text().replace("/Dec/2026:10:", "/Dec/2026:09:")
    (tmp_path / "ordinary.log").write_text(ordinary)
    run("ingest", str(tmp_path / "ordinary.log"))
    calm = json.loads(run("model", "show", "shop", "--recent", "36500d", "--json"))["live"]
    assert calm["scored"] == 3_000 and calm["flagged"] <= 60 and calm["warning"] is None
    assert [h["hour"][11:16] for h in calm["hours"]] == ["09:00"]
    # then the site is probed at 11:xx: that hour is far over the calibrated rate, and so is the period
    probes = [f'203.0.113.5 - - [04/Dec/2026:11:00:{i % 60:02d} +0000] "GET /tienda1/backup{i}.zip HTTP/1.1" 404 9 '
              '"-" "Mozilla/5.0"' for i in range(300)]
    (tmp_path / "probes.log").write_text("\n".join(probes) + "\n")
    run("ingest", str(tmp_path / "probes.log"))
    shown = json.loads(run("model", "show", "shop", "--recent", "36500d", "--json"))["live"]
    assert shown["scored"] == 3_300 and shown["hours"][-1]["scored"] == 300 and shown["hours"][-1]["flagged"] == 300
    assert [h["over"] for h in shown["hours"]] == [False, True] and shown["warning"].startswith("live: the model")
    text = run("model", "show", "shop", "--recent", "36500d")
    assert "live (since 36500d): 3,300 judged" in text and "1 of 2 hours over 2x" in text and "over 2x" in text
