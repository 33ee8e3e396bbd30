"""Model files are never trusted: skops types are checked against an allowlist before anything is built,
pickles are refused, and the registry notices a file changed behind its back."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.preprocessing import FunctionTransformer

from netwarden.learn import artefacts, data
from netwarden.learn._tabular import ESTIMATOR_FILE
from netwarden.learn.base import META_FILE, Model, ModelError, create


class Gadget:
    """A class no allowlist knows: what a hostile artefact would smuggle in."""

    def __setstate__(self, state: dict) -> None:
        Path(state["marker"]).write_text("executed")


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def saved(kdd_split, tmp_path_factory) -> Path:
    train, _ = kdd_split
    model = create("logistic_regression").fit(train[:2000], data.targets(train[:2000], "binary"))
    return model.save(tmp_path_factory.mktemp("model") / "lr")


def _copy(saved: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(saved, target)
    return target


def test_a_saved_model_loads(saved: Path) -> None:
    assert Model.load(saved).algorithm == "logistic_regression"


def test_unknown_type_in_skops_file_is_refused(saved: Path, tmp_path: Path) -> None:
    target = _copy(saved, tmp_path)
    gadget = Gadget()
    skops.io.dump({"estimator": gadget}, target / ESTIMATOR_FILE)
    with pytest.raises(ModelError, match="refused.*Gadget"):
        Model.load(target)


def test_callable_holder_is_refused_even_from_sklearn(saved: Path, tmp_path: Path) -> None:
    target = _copy(saved, tmp_path)
    skops.io.dump(FunctionTransformer(func=os.system), target / ESTIMATOR_FILE)
    with pytest.raises(ModelError, match="refused"):
        Model.load(target)


def test_a_pickle_is_never_unpickled(saved: Path, tmp_path: Path) -> None:
    target = _copy(saved, tmp_path)
    marker = tmp_path / "pwned"
    (target / ESTIMATOR_FILE).write_bytes(pickle.dumps(Exploit(marker)))
    with pytest.raises(ModelError, match="not a readable model file"):
        Model.load(target)
    assert not marker.exists()


def test_a_valid_file_of_the_wrong_estimator_is_refused(saved: Path, tmp_path: Path, kdd_split) -> None:
    train, _ = kdd_split
    other = create("knn").fit(train[:300], data.targets(train[:300], "binary"))
    target = _copy(saved, tmp_path)
    shutil.copy(other.save(tmp_path / "knn") / ESTIMATOR_FILE, target / ESTIMATOR_FILE)
    with pytest.raises(ModelError, match="needs a LogisticRegression"):
        Model.load(target)


@pytest.mark.parametrize("change", [
    lambda meta: meta.update(format=99),
    lambda meta: meta.update(algorithm="os.system"),
    lambda meta: meta["state"]["spec"].update(median=[1.0]),
    lambda meta: meta.update(params={"evil": 1}),
])
def test_a_malformed_description_is_refused(saved: Path, tmp_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    target = _copy(saved, tmp_path)
    meta = json.loads((target / META_FILE).read_text())
    change(meta)
    (target / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError):
        Model.load(target)


def test_missing_or_garbage_files(saved: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        Model.load(tmp_path / "nothing")
    target = _copy(saved, tmp_path)
    (target / ESTIMATOR_FILE).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ModelError):
        Model.load(target)


def test_tensors_round_trip_without_pickle(tmp_path: Path) -> None:
    weights = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.zeros(3)}
    artefacts.save_tensors(weights, tmp_path / "w.safetensors")
    back = artefacts.load_tensors(tmp_path / "w.safetensors")
    assert set(back) == {"w", "b"} and np.array_equal(back["w"], weights["w"])
    (tmp_path / "bad.safetensors").write_bytes(pickle.dumps({"w": 1}))
    with pytest.raises(ModelError):
        artefacts.load_tensors(tmp_path / "bad.safetensors")


def test_digest_changes_with_any_file(saved: Path, tmp_path: Path) -> None:
    target = _copy(saved, tmp_path)
    before = artefacts.digest(target)
    assert before == artefacts.digest(saved)
    (target / "extra.txt").write_text("x")
    assert artefacts.digest(target) != before
