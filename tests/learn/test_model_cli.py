"""`netwarden model ...` end to end on a real NSL-KDD sample, and its errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netwarden.cli import cli


@pytest.fixture
def env(tmp_path: Path, kdd_file: Path):  # type: ignore[no-untyped-def]
    rows = gzip.decompress(Path(kdd_file).read_bytes()).decode().splitlines()
    (tmp_path / "train.txt").write_text("\n".join(rows[:3000]) + "\n")
    (tmp_path / "new.txt").write_text("\n".join(rows[3000:3300]) + "\n")
    url = f"sqlite:///{tmp_path / 'nw.db'}"

    def run(*args: str, code: int = 0, input: str | None = None) -> str:
        result = CliRunner().invoke(cli, ["--db", url, "model", *args], input=input)
        assert result.exit_code == code, result.output
        return result.output

    return tmp_path, run


def test_train_list_show_activate_predict_delete(env) -> None:  # type: ignore[no-untyped-def]
    tmp, run = env
    output = run("train", "--data", str(tmp / "train.txt"), "-a", "random_forest", "-p", "n_estimators=20",
                 "--name", "kdd", "--task", "category")
    assert "trained kdd:1" in output and "accuracy" in output and "per category" in output
    record = json.loads(run("train", "--data", str(tmp / "train.txt"), "-a", "logistic_regression",
                            "--name", "kdd", "--json"))
    assert record["ref"] == "kdd:2" and record["metrics"]["f1"] > 0.9
    assert (tmp / "netwarden-models" / "kdd" / "v2" / "model.json").is_file()  # beside the SQLite file
    listing = run("list")
    assert "kdd:1" in listing and "kdd:2" in listing
    shown = run("show", "kdd:1")
    assert "random_forest" in shown and "neptune" in shown
    assert "activated" in run("activate", "kdd:1")
    assert json.loads(run("list", "--json").splitlines()[0])["active"] is True
    predicted = run("predict", "kdd:1", "--data", str(tmp / "new.txt"), "--top", "2")
    assert "300 records" in predicted and "row " in predicted
    lines = run("predict", "kdd:1", "--data", str(tmp / "new.txt"), "--json").splitlines()
    verdicts = [json.loads(line) for line in lines]
    assert verdicts and all(v["alert"] for v in verdicts)
    hits = sum(v["truth"] != "normal" for v in verdicts)
    assert hits / len(verdicts) > 0.9
    assert "threshold 0.9000" in run("threshold", "kdd:1", "0.9")
    assert "deactivated" in run("deactivate", "kdd:1")
    assert "deleted" in run("delete", "kdd:2", "--yes")
    assert "kdd:2" not in run("list")


def test_predict_on_stored_events(env) -> None:  # type: ignore[no-untyped-def]
    tmp, run = env
    run("train", "--data", str(tmp / "train.txt"), "-a", "logistic_regression", "--name", "m")
    url = f"sqlite:///{tmp / 'nw.db'}"
    CliRunner().invoke(cli, ["--db", url, "ingest", str(tmp / "new.txt")], catch_exceptions=False)
    output = run("predict", "m", "--since", "1d")
    assert "300 records" in output


def test_errors_are_clear(env) -> None:  # type: ignore[no-untyped-def]
    tmp, run = env
    assert "no such file" in run("train", "--data", str(tmp / "missing.csv"), "-a", "knn", code=2)
    assert "unknown parameter" in run("train", "--data", str(tmp / "train.txt"), "-a", "knn", "-p", "k=3", code=2)
    assert "KEY=VALUE" in run("train", "--data", str(tmp / "train.txt"), "-a", "knn", "-p", "k", code=2)
    assert "unknown algorithm" in run("train", "--data", str(tmp / "train.txt"), "-a", "magic", code=2)
    assert "no model" in run("show", "nothing", code=1)
    assert "either --data" in run("predict", "nothing", code=2)
    junk = tmp / "junk.csv"
    junk.write_text("a,b\n\x1b[2J,1\n")
    assert "no label column" in run("train", "--data", str(junk), "-a", "knn", code=2)


def test_algorithms_lists_every_family(env) -> None:  # type: ignore[no-untyped-def]
    _, run = env
    output = run("algorithms")
    for name in ("random_forest", "gradient_boosting", "knn", "logistic_regression", "isolation_forest", "lof",
                 "knn_distance"):
        assert name in output


@pytest.mark.filterwarnings("error::RuntimeWarning")  # "no NumPy warnings": one would fail the command
@pytest.mark.parametrize("algorithm", ["random_forest", "forest_novelty", "isolation_forest"])
def test_training_says_the_rows_of_each_step_and_how_sure_its_calibration_is(env, algorithm: str) -> None:  # type: ignore[no-untyped-def]
    tmp, run = env
    output = run("train", "--data", str(tmp / "train.txt"), "-a", algorithm, "-p", "n_estimators=20", "--name", "m")
    record = json.loads(run("show", "m", "--json"))
    given = record["data"]["train_rows"]
    calibration = record["metrics"]["calibration"]
    fitted, held = calibration["train_rows"], calibration["calibration_rows"]
    if algorithm != "isolation_forest":  # a stratified 15 % held back; its normal rows set the threshold
        normal = record["data"]["classes"]["normal"]
        assert f"{given:,} labelled training rows given to the model" in output
        assert f"fitted on {fitted:,} rows" in output
        split = [line for line in output.splitlines() if "held back to calibrate the threshold" in line]
        assert len(split) == 1 and f"({held:,} normal)" in split[0]
        assert int(split[0].split("-", 1)[1].split()[0].replace(",", "")) + fitted == given
        assert 0.1 * normal < held < 0.2 * normal
    else:  # learnt from the normal rows only, a fifth of them held back
        assert f"{held:,} rows held back to calibrate the threshold" in output and f"fitted on {fitted:,} rows" in output
        assert fitted + held == record["data"]["classes"]["normal"]
    lo, hi = calibration["fpr_95"]
    assert lo <= calibration["calibrated_fpr"] <= hi and hi - lo < 0.1 and calibration["calibrated_fpr"] <= 0.02
    shown = run("show", "m")
    assert f"calibration: {held:,} held-back normal rows, {calibration['calibrated_fpr']:.2%} flagged (95 % interval" in shown
    # how sure: the bound new normal traffic stays within, at least the rate seen and within the target asked
    assert calibration["calibrated_fpr"] <= calibration["fpr_upper"] <= 1
    assert f"false positives on new normal traffic: at most {calibration['fpr_upper']:.2%} with 95% confidence" in shown
    if algorithm == "forest_novelty":
        assert calibration["fpr_target"] == 0.01
        assert "false positives on new normal traffic: at most" in output
        if calibration["fpr_upper"] > 0.01:  # a small file cannot vouch for 1 %: training says so, no silent miss
            assert "too few normal rows to vouch for it" in output
    run("threshold", "m", "0.95")  # the administrator moved the operating point: the figure says where it held
    assert "at the trained threshold" in run("show", "m")
