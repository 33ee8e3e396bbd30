"""The lab: split, train, evaluate, register — and the metrics say what they claim."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest

from netwarden.learn import data, lab
from netwarden.learn.base import ModelError
from netwarden.learn.evaluation import evaluate
from netwarden.learn.registry import ModelRegistry
from netwarden.store.database import Database


@pytest.fixture
def registry(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    yield ModelRegistry(db, tmp_path / "models")
    db.close()


def test_split_is_stratified_and_reproducible(kdd_events) -> None:
    train, test = lab.split_events(kdd_events, "binary", 0.3, 42)
    assert len(test) == pytest.approx(0.3 * len(kdd_events), abs=1)
    def share(evs: list) -> float:
        return float(np.mean([e.label != "normal" for e in evs]))
    assert share(train) == pytest.approx(share(test), abs=0.005)
    again, _ = lab.split_events(kdd_events, "binary", 0.3, 42)
    other, _ = lab.split_events(kdd_events, "binary", 0.3, 1)
    assert [id(e) for e in again] == [id(e) for e in train] and [id(e) for e in other] != [id(e) for e in train]


def test_train_evaluates_and_registers(registry: ModelRegistry, kdd_file: Path) -> None:
    stages: list[tuple[str, float]] = []
    result = lab.train(registry, data=kdd_file, algorithm="random_forest", params={"n_estimators": "20"},
                       limit=4000, name="kdd-rf", progress=lambda s, f: stages.append((s, f)))
    m = result.metrics
    (tn, fp), (fn, tp) = m["confusion"]["matrix"]
    assert tn + fp + fn + tp == m["rows"] == 1200 == result.data["test_rows"]
    assert m["accuracy"] == pytest.approx((tn + tp) / 1200, abs=1e-6)
    assert m["recall"] == pytest.approx(tp / (tp + fn), abs=1e-6)
    assert m["fpr"] == pytest.approx(fp / (fp + tn), abs=1e-6)
    assert m["f1"] > 0.95 and m["roc_auc"] > 0.98 and len(m["roc"]["fpr"]) == len(m["roc"]["tpr"]) <= 100
    assert m["train_seconds"] > 0 and m["predictions_per_second"] > 0
    assert "neptune" in m["by_label"] and m["by_label"]["neptune"]["flagged"] > 0.9
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and any(s.startswith("trees") for s, _ in stages)
    record = registry.get("kdd-rf")
    assert record.metrics["f1"] == m["f1"] and record.params["n_estimators"] == 20
    assert record.data["format"] == "nsl_kdd" and record.data["train_rows"] == 2800
    again = lab.train(None, data=kdd_file, algorithm="random_forest", params={"n_estimators": "20"}, limit=4000)
    assert again.metrics["f1"] == m["f1"]  # fixed seeds: the same figures


def test_category_task_and_explicit_test_file(registry: ModelRegistry, kdd_file: Path, tmp_path: Path) -> None:
    rows = gzip.decompress(Path(kdd_file).read_bytes()).decode().splitlines()
    (tmp_path / "train.txt").write_text("\n".join(rows[:3000]) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(rows[3000:4000]) + "\n")
    result = lab.train(registry, data=tmp_path / "train.txt", test=tmp_path / "test.txt", task="category",
                       algorithm="random_forest", params={"n_estimators": 20}, name="cat")
    m = result.metrics
    assert m["rows"] == 1000 and result.data["test_file"].endswith("test.txt")
    assert m["category"]["labels"][0] == "normal" and "DoS" in m["category"]["labels"]
    assert np.sum(m["category"]["matrix"]) == 1000 and 0 < m["category"]["macro_f1"] <= 1


def test_unsupervised_learns_from_normal_rows_only(registry: ModelRegistry, kdd_file: Path) -> None:
    result = lab.train(registry, data=kdd_file, algorithm="isolation_forest", limit=4000, params={"fpr": "0.02"})
    assert result.model.threshold == pytest.approx(0.98)
    assert result.metrics["roc_auc"] > 0.85 and result.metrics["fpr"] < 0.06


def test_any_csv_with_a_label_column(registry: ModelRegistry, kdd_events, tmp_path: Path) -> None:
    """A generic CSV (header, a label column, text and number columns) trains; unseen text values in the test
    file still score."""
    path = tmp_path / "flows.csv"
    keys = ["duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "count", "serror_rate"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*keys, "outcome_class"])
        for e in kdd_events[:2500]:
            w.writerow([e.extra[k] for k in keys] + ["benign" if e.label == "normal" else "malicious"])
    test = tmp_path / "test.csv"
    with test.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*keys, "outcome_class"])
        w.writerow([0, "sctp", "brand-new", "XX", 10, 10, 1, 0.0, "benign"])
        w.writerow([0, "tcp", "private", "S0", 0, 0, 300, 1.0, "malicious"])
    result = lab.train(registry, data=path, test=test, algorithm="gradient_boosting", label_column="outcome_class",
                       name="generic")
    assert result.data["format"] == "csv" and set(result.model.features_) == set(keys)
    assert result.metrics["rows"] == 2
    assert result.metrics["confusion"]["matrix"][1][1] == 1  # the SYN flood row is caught
    with pytest.raises(ModelError, match="no label column"):
        lab.train(None, data=path, algorithm="knn")


def test_bad_rows_are_skipped_and_counted(registry: ModelRegistry, kdd_file: Path, tmp_path: Path) -> None:
    rows = gzip.decompress(Path(kdd_file).read_bytes()).decode().splitlines()[:600]
    rows[10] = "0,tcp,http,SF,not-a-number"
    rows[20] = "\x00\x01 garbage"
    (tmp_path / "dirty.txt").write_text("\n".join(rows) + "\n")
    result = lab.train(registry, data=tmp_path / "dirty.txt", fmt="nsl_kdd", algorithm="logistic_regression")
    assert result.data["skipped"] == 2 and result.data["rows"] == 598
    assert any("line 11" in p for p in result.problems)


def test_predict_one_record(kdd_events) -> None:
    train = kdd_events[:3000]
    from netwarden.learn.base import create

    model = create("random_forest", n_estimators=30).fit(train, data.targets(train, "binary"))
    flood = {"duration": 0, "protocol_type": "tcp", "service": "private", "flag": "S0", "src_bytes": 0,
             "dst_bytes": 0, "count": 250, "serror_rate": 1.0, "srv_serror_rate": 1.0, "dst_host_serror_rate": 1.0}
    verdict = lab.predict_one(model, flood)
    assert verdict["alert"] is True and verdict["label"] == "attack" and verdict["score"] >= 0.5
    assert verdict["explanation"] and {"feature", "value", "contribution"} <= set(verdict["explanation"][0])
    with pytest.raises(ModelError, match="timestamp"):
        lab.predict_one(model, {"timestamp": "yesterday-ish"})


def test_evaluation_edge_cases() -> None:
    m = evaluate(["normal", "normal"], np.array([0.1, 0.9]), ["normal", "attack"], 0.5)
    assert m["roc_auc"] is None and m["fpr"] == 0.5 and m["recall"] == 0.0 and m["f1"] == 0.0
