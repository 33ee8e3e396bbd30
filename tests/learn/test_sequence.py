"""RNN, LSTM and GRU sequence models: learning, context, reproducibility, explanations, safe files.

Small samples and few epochs keep the file fast; the full-size figures are in benchmarks/bench_sequence.py.
"""

from __future__ import annotations

import gzip
import json
import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from netwarden.learn import artefacts
from netwarden.learn.base import Model, ModelError, algorithms, create
from netwarden.learn.sequence import ENABLE_HINT, WEIGHTS_FILE, SequenceModel

torch = pytest.importorskip("torch", reason=ENABLE_HINT)  # the optional "sequence" extra
from netwarden.parse import ParseContext, get_parser
from netwarden.records import Event

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SMALL = {"epochs": 4, "hidden_size": 16, "timesteps": 6, "batch_size": 128}


@pytest.fixture(scope="module")
def kdd(datasets: Path) -> tuple[list[Event], list[str]]:
    """The first 4,500 rows of NSL-KDD's KDDTrain+_20Percent, with normal/attack labels."""
    parser = get_parser("nsl_kdd")(ParseContext())
    with gzip.open(datasets / "nsl-kdd" / "KDDTrain+_20Percent.txt.gz", "rt") as f:
        events = [parser.parse_line(next(f).rstrip("\n")) for _ in range(4500)]
    return events, ["normal" if e.label == "normal" else "attack" for e in events]


@pytest.fixture(scope="module")
def trained(kdd) -> SequenceModel:
    events, labels = kdd
    model = create("gru", **SMALL, target_fpr=0.05)  # threshold: 5% of the validation split's normal rows
    return model.fit(events[:3000], labels[:3000])  # type: ignore[return-value]


def test_the_three_cells_are_registered():
    found = algorithms()
    for name in ("rnn", "lstm", "gru"):
        assert found[name].family == "sequence" and issubclass(found[name], SequenceModel)
        assert found[name]().cell == name


@pytest.mark.parametrize("algorithm", ["rnn", "lstm", "gru"])
def test_each_cell_learns_nsl_kdd(kdd, algorithm):
    events, labels = kdd
    stages: list[tuple[str, float]] = []
    model = create(algorithm, **SMALL).fit(events[:3000], labels[:3000],
                                           progress=lambda s, f: stages.append((s, f)))
    scores = model.score(events[3000:])
    truth = np.array([label == "attack" for label in labels[3000:]])
    assert scores.shape == (1500,) and 0.0 <= scores.min() and scores.max() <= 1.0
    assert roc_auc_score(truth, scores) > 0.95
    assert np.mean(np.array(model.predict(events[3000:])) == np.array(labels[3000:])) > 0.9
    # progress goes from features to done through every epoch that ran
    assert stages[0][0] == "features" and stages[-1] == ("done", 1.0)
    assert sum(1 for s, _ in stages if s.startswith("epoch")) == len(model.history_) >= 1


def probe_then_ordinary(clients: int = 120) -> tuple[list[Event], list[str]]:
    """Every client makes identical ordinary requests; attackers' first request was a probe."""
    events, labels = [], []
    for c in range(clients):
        ip, attacker = f"10.1.{c // 250}.{c % 250}", c % 2 == 0
        for step in range(6):
            url, status = ("/.env", 404) if attacker and step == 0 else ("/index.html", 200)
            when = T0 + timedelta(seconds=c * 100 + step * 5)
            events.append(Event(timestamp=when, source_kind="access_log", src_ip=ip, http_method="GET",
                                url=url, http_status=status, user_agent="Mozilla/5.0",
                                bytes_in=2048 if status == 200 else 150))
            labels.append("attack" if attacker else "normal")
    return events, labels


def _context_model(timesteps: int, events: list[Event], labels: list[str]) -> SequenceModel:
    return create("lstm", epochs=25, hidden_size=16, timesteps=timesteps, validation_fraction=0.0,  # type: ignore
                  patience=25, learning_rate=0.01).fit(events, labels)


@pytest.fixture(scope="module")
def context() -> tuple[SequenceModel, list[Event], list[str]]:
    events, labels = probe_then_ordinary()
    return _context_model(6, events[:480], labels[:480]), events[480:], labels[480:]  # 80 clients / 40


def test_the_window_carries_context_a_single_event_does_not(context):
    """Only a model that sees the earlier requests of the same client can tell the attackers' later,
    ordinary-looking requests apart."""
    model, test, labels = context
    events, all_labels = probe_then_ordinary()
    alone = _context_model(1, events[:480], all_labels[:480])
    later = np.array([e.url == "/index.html" for e in test])  # the ordinary-looking requests
    truth = np.array(labels) == "attack"
    assert roc_auc_score(truth[later], alone.score(test)[later]) < 0.6  # alone, the requests are the same
    assert roc_auc_score(truth[later], model.score(test)[later]) > 0.95  # with the client's earlier ones, not
    # the explanation of a late request of an attacker points at what the probe had different
    top = model.explain(test[:6], top=3)[5]
    assert {c.feature for c in top} & {"status_class", "extension", "response_size", "path_depth",
                                       "url_length"}


def test_a_live_stream_keeps_each_sources_context_across_batches(context):
    model, test, labels = context
    whole = model.score(test)
    # the same requests arriving one per batch, as a live collector cuts them
    streamed = np.concatenate([model.score_stream([e]) for e in test])
    assert np.allclose(streamed, whole, atol=1e-9)
    one_by_one = np.concatenate([model.score([e]) for e in test])  # plain score has no memory
    later = np.array([e.url == "/index.html" for e in test])
    truth = np.array(labels) == "attack"
    assert roc_auc_score(truth[later], one_by_one[later]) < 0.6
    model.reset_stream()
    assert model.score_stream(test[5:6])[0] == pytest.approx(one_by_one[5])


def test_explaining_a_scored_event_uses_the_window_it_was_scored_with(context):
    model, test, _ = context
    in_context = model.explain(test[:12])
    model.score(test)  # the ml detector scores a batch, then explains its strongest event
    assert [c.to_dict() for c in model.explain([test[5]])[0]] == [c.to_dict() for c in in_context[5]]
    model.score([Event(timestamp=T0, source_kind="access_log", src_ip="192.0.2.1", http_method="GET",
                       url="/")])
    alone = model.explain([test[5]])[0]  # no longer in the last batch: explained alone
    assert [c.to_dict() for c in alone] != [c.to_dict() for c in in_context[5]]


def test_a_model_judges_only_the_kind_of_records_it_learned(context, trained, kdd):
    web_model, web, _ = context
    flows = kdd[0][:5]
    assert web_model.applicable(web[:3]).all() and not web_model.applicable(flows).any()
    assert trained.applicable(flows).all() and not trained.applicable(web[:3]).any()


def test_same_seed_same_model_other_seed_other_model(kdd):
    events, labels = kdd
    runs = [create("lstm", **SMALL, seed=seed).fit(events[:1500], labels[:1500]).score(events[3000:3500])
            for seed in (7, 7, 8)]
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_early_stopping_keeps_the_best_epoch(kdd):
    events, labels = kdd
    model = create("rnn", **{**SMALL, "epochs": 30}, patience=1, learning_rate=0.05, target_fpr=0.05)
    model.fit(events[:1500], labels[:1500])
    losses = [h["val_loss"] for h in model.history_]
    assert len(losses) < 30 and model.best_epoch_ == int(np.argmin(losses)) + 1
    # the training output says what each step used: the windows of each part, the epochs, the calibration
    held = 1500 - int(model.steps_[0].split()[0].replace(",", ""))
    assert model.steps_[0] == f"{1500 - held:,} windows trained on, {held:,} held out (stratified) to stop early"
    assert 100 < held < 200  # validation_fraction 0.1 of each class
    assert model.steps_[1] == f"{len(losses)} of 30 epochs run, the weights of epoch {model.best_epoch_} kept"
    normal = int(model.steps_[2].split()[3].replace(",", ""))
    assert model.steps_[2] == f"threshold calibrated on {normal:,} held-out normal windows" and 0 < normal < held


def test_threshold_calibrated_to_a_false_positive_rate(trained, kdd, tmp_path):
    events, labels = kdd
    model = trained
    scores = model.score(events[3000:])
    normal = np.array(labels[3000:]) == "normal"
    assert model.threshold != 0.5
    assert 0.01 <= np.mean(scores[normal] >= model.threshold) <= 0.1  # ~5% of unseen normal rows alert
    assert Model.load(model.save(tmp_path / "m")).threshold == model.threshold


def test_category_task(kdd):
    events, _ = kdd
    categories = [e.extra["attack_category"] for e in events]
    model = create("gru", task="category", **SMALL).fit(events[:3000], categories[:3000])
    assert set(model.classes_) == {"normal", "DoS", "Probe", "R2L", "U2R"} & set(categories[:3000])
    predicted = model.predict(events[3000:])
    assert set(predicted) <= set(model.classes_)
    assert np.mean(np.array(predicted) == np.array(categories[3000:])) > 0.85
    proba = model.predict_proba(events[3000:3010])
    assert np.allclose(model.score(events[3000:3010]), 1 - proba[:, model.classes_.index("normal")])


def test_explanations_name_the_events_own_values(trained, kdd):
    events, _ = kdd
    sample = events[3000:3040]
    explained = trained.explain(sample, top=4)
    assert len(explained) == len(sample)
    for event, contributions in zip(sample, explained):
        assert 1 <= len(contributions) <= 4
        weights = [abs(c.contribution) for c in contributions]
        assert weights == sorted(weights, reverse=True)
        for c in contributions:
            assert c.feature in trained.features_
            assert str(c.value) == (str(event.extra[c.feature]) if isinstance(event.extra[c.feature], str)
                                    else f"{float(event.extra[c.feature]):g}")
    # SYN floods (neptune: flag S0, SYN error rates 1.0) are explained by what makes them floods
    floods = [e for e in events[3000:] if e.label == "neptune"][:20]
    pushed = [c.feature for row in trained.explain(floods, top=3) for c in row if c.contribution > 0]
    assert {"flag", "serror_rate", "srv_serror_rate", "dst_host_serror_rate", "dst_host_srv_serror_rate",
            "count", "same_srv_rate", "dst_host_same_srv_rate", "service"} & set(pushed)


@pytest.mark.parametrize("params, message", [
    ({"timesteps": 0}, "timesteps"), ({"dropout": 2.0}, "dropout"),
    ({"class_weight": "auto"}, "class_weight"), ({"features": "pcap"}, "features"),
    ({"depth": 3}, "unknown parameter"), ({"hidden_size": "big"}, "hidden_size"),
])
def test_bad_parameters_are_clear_errors(params, message):
    with pytest.raises(ModelError, match=message):
        create("lstm", **params)


def test_parameters_given_as_text_are_converted():
    model = create("gru", timesteps="8", learning_rate="0.01", class_weight="none")
    assert model.params["timesteps"] == 8 and model.params["learning_rate"] == 0.01


def test_odd_values_neither_crash_nor_poison_the_scores():
    """Attacker-controlled or damaged records: missing fields, text where numbers belong, NaN, infinity,
    absurd sizes, huge URLs, control characters."""
    odd = [Event(timestamp=None, source_kind="flow_csv", extra={"src_bytes": v, "service": s})
           for v, s in [(1, "http"), ("lots", None), (float("nan"), "x" * 500), (float("inf"), "\x00"),
                        (-5, ""), (10**30, "http"), (None, "ftp")] * 4]
    labels = ["normal", "attack"] * 14
    scores = create("rnn", epochs=1, timesteps=3).fit(odd, labels).score(odd)
    assert scores.shape == (28,) and np.isfinite(scores).all()
    web = [Event(timestamp=T0 + timedelta(seconds=i), source_kind="access_log", src_ip=ip, http_method=m,
                 url=u, http_status=st, user_agent=ua, bytes_in=b)
           for i, (ip, m, u, st, ua, b) in enumerate([
               ("10.0.0.1", "GET", "/", 200, "Mozilla/5.0", 10), ("10.0.0.1", None, None, None, None, None),
               ("10.0.0.2", "G\x00T", "/" + "%41" * 5000, 999, "\u202e" * 300, 10**15),
               (None, "POST", "http://h/a?b=1&&c", 0, "-", 0)] * 5)]
    model = create("gru", epochs=1, timesteps=4).fit(web, ["normal", "attack"] * 10)
    assert np.isfinite(model.score(web)).all() and len(model.explain(web[:4])) == 4


def test_untrained_model_says_so():
    with pytest.raises(ModelError, match="not trained"):
        create("rnn").score([Event(timestamp=None, source_kind="flow_csv")])


# -- safe persistence ---------------------------------------------------------------------------


def test_save_and_load_give_the_same_predictions_without_pickle(trained, kdd, tmp_path, monkeypatch):
    events, _ = kdd
    trained.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", WEIGHTS_FILE]

    def refuse(*args, **kwargs):
        raise AssertionError("loading a model must not unpickle")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    loaded = Model.load(tmp_path / "m")
    assert type(loaded) is type(trained) and loaded.params == trained.params
    assert np.array_equal(loaded.score(events[3000:3500]), trained.score(events[3000:3500]))
    assert [c.to_dict() for c in loaded.explain(events[3000:3001])[0]] == \
        [c.to_dict() for c in trained.explain(events[3000:3001])[0]]


class _Exploit:
    """Pickles into "create a file": what a crafted torch.save() file could do to a loader that unpickles."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_crafted_pickle_in_place_of_the_weights_runs_nothing(trained, tmp_path):
    directory = trained.save(tmp_path / "m")
    marker = tmp_path / "pwned"
    torch.save({"recurrent.weight_ih_l0": _Exploit(marker)}, directory / WEIGHTS_FILE)
    with pytest.raises(ModelError, match="not a readable weights file"):
        Model.load(directory)
    assert not marker.exists()
    # the file is a real exploit for a loader that unpickles (torch.load reads by content, not by name)
    (tmp_path / "same.pt").write_bytes((directory / WEIGHTS_FILE).read_bytes())
    torch.load(tmp_path / "same.pt", weights_only=False)
    assert marker.exists()


def _damage(directory: Path, how: str) -> None:
    weights = directory / WEIGHTS_FILE
    meta_path = directory / "model.json"
    meta = json.loads(meta_path.read_text())
    if how == "truncated":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif how == "garbage":
        weights.write_bytes(b"\xff" * 64)
    elif how == "missing":
        weights.unlink()
    elif how == "nan":
        arrays = artefacts.load_tensors(weights)
        arrays["head.bias"] = np.full_like(arrays["head.bias"], np.nan)
        artefacts.save_tensors(arrays, weights)
    elif how == "extra tensor":
        arrays = artefacts.load_tensors(weights)
        arrays["backdoor"] = np.zeros(3, dtype=np.float32)
        artefacts.save_tensors(arrays, weights)
    elif how == "vocabulary":  # the JSON no longer matches the weights' shapes
        meta["state"]["encoder"]["vocabularies"][0].append("extra")
    elif how == "field":
        meta["state"]["encoder"]["numeric_names"][0] = "event.__class__"
    elif how == "params":
        meta["params"]["hidden_size"] = -1
    meta_path.write_text(json.dumps(meta))


@pytest.mark.parametrize("how, message", [
    ("truncated", "not a readable weights file"), ("garbage", "not a readable weights file"),
    ("missing", "not a readable weights file"), ("nan", "NaN"), ("extra tensor", "unexpected"),
    ("vocabulary", "expected"), ("field", "bad model description"), ("params", "hidden_size"),
])
def test_a_damaged_model_is_refused_clearly(trained, tmp_path, how, message):
    directory = trained.save(tmp_path / "m")
    _damage(directory, how)
    with pytest.raises(ModelError, match=message):
        Model.load(directory)
