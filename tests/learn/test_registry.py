"""The registry on SQLite, MariaDB and PostgreSQL: versions, activation, deletion, tamper checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netwarden.learn import data
from netwarden.learn.base import META_FILE, ModelError, create
from netwarden.learn.registry import ModelRegistry
from netwarden.store.database import Database

pytestmark = pytest.mark.engines


@pytest.fixture(scope="module")
def small_model(kdd_split):  # type: ignore[no-untyped-def]
    train, _ = kdd_split
    return create("logistic_regression").fit(train[:1500], data.targets(train[:1500], "binary"))


def test_versions_activation_and_deletion(db: Database, tmp_path: Path, small_model) -> None:
    registry = ModelRegistry(db, tmp_path / "models")
    first = registry.add(small_model, name="kdd-lr", data={"file": "x"}, metrics={"f1": 0.9})
    second = registry.add(small_model, name="kdd-lr", data={"file": "y"}, metrics={"f1": 0.95})
    other = registry.add(small_model, name="other", data={}, metrics={})
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert (tmp_path / "models" / "kdd-lr" / "v2" / META_FILE).is_file()
    assert [r.ref for r in registry.list()] == ["kdd-lr:1", "kdd-lr:2", "other:1"]
    assert registry.get("kdd-lr").version == 2  # a bare name is the newest version
    assert registry.get("kdd-lr:1").data == {"file": "x"}
    assert registry.get(str(other.id)).name == "other"
    assert registry.get("kdd-lr:2").metrics == {"f1": 0.95}

    registry.activate("kdd-lr:1")
    registry.activate("other")
    assert [r.ref for r in registry.active()] == ["kdd-lr:1", "other:1"]
    registry.activate("kdd-lr:2")  # one version per name: v1 retires
    assert [r.ref for r in registry.active()] == ["kdd-lr:2", "other:1"]
    registry.deactivate("other")
    assert [r.ref for r in registry.active()] == ["kdd-lr:2"]

    registry.set_threshold("kdd-lr:2", 0.8)
    assert registry.load("kdd-lr:2").threshold == 0.8

    registry.delete("kdd-lr:1")
    assert not (tmp_path / "models" / "kdd-lr" / "v1").exists()
    assert [r.ref for r in registry.list()] == ["kdd-lr:2", "other:1"]
    third = registry.add(small_model, name="kdd-lr", data={}, metrics={})
    assert third.version == 3


def test_lookups_and_names_fail_clearly(db: Database, tmp_path: Path, small_model) -> None:
    registry = ModelRegistry(db, tmp_path)
    with pytest.raises(ModelError, match="no model"):
        registry.get("absent")
    with pytest.raises(ModelError, match="bad model reference"):
        registry.get("absent:x")
    for bad in ("../escape", "", "a b", "x" * 65, "-lead"):
        with pytest.raises(ModelError, match="bad model name"):
            registry.add(small_model, name=bad, data={}, metrics={})
    assert registry.list() == []


def test_changed_files_are_refused(db: Database, tmp_path: Path, small_model) -> None:
    registry = ModelRegistry(db, tmp_path)
    record = registry.add(small_model, name="m", data={}, metrics={})
    meta_path = tmp_path / "m" / "v1" / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["threshold"] = 0.0001  # "never alert"... or "always": either way not what was trained
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="changed since"):
        registry.load(record.ref)
    with pytest.raises(ModelError, match="changed since"):
        registry.activate(record.ref)
    assert registry.active() == []


def test_an_artefact_path_outside_the_directory_is_refused(db: Database, tmp_path: Path, small_model) -> None:
    from sqlalchemy import update

    from netwarden.store.schema_learn import models

    registry = ModelRegistry(db, tmp_path / "models")
    record = registry.add(small_model, name="m", data={}, metrics={})
    with db.engine.begin() as conn:
        conn.execute(update(models).values(artefact="../../etc"))
    with pytest.raises(ModelError, match="outside"):
        registry.load(record.ref)


def test_a_model_that_cannot_score_is_not_activated(db: Database, tmp_path: Path, kdd_split) -> None:  # type: ignore[no-untyped-def]
    """k nearest neighbours with k above the rows it kept trains, saves and loads, but cannot score: refused
    with the reason, and the model that was active stays active."""
    train, _ = kdd_split
    registry = ModelRegistry(db, tmp_path / "models")
    good = registry.add(create("logistic_regression").fit(train[:300], data.targets(train[:300], "binary")),
                        name="kdd", data={}, metrics={})
    registry.activate(good.ref)
    broken_model = create("knn", n_neighbors=400).fit(train[:300], data.targets(train[:300], "binary"))
    broken = registry.add(broken_model, name="kdd", data={}, metrics={})
    with pytest.raises(ModelError, match=r"cannot score records \(ValueError: .*n_neighbors.*not activated"):
        registry.activate(broken.ref)
    assert [r.ref for r in registry.active()] == [good.ref]
