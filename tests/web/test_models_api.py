"""``/api/v1/models`` and the Models page: train from an upload with progress, compare, (de)activate,
delete, check a record; roles; bad input is a 4xx or a failed job with a message, never a 500."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from netwarden.web.api.models import TrainingJob, board_of


@pytest.fixture(scope="module")
def kdd_bytes(datasets: Path) -> bytes:
    lines = gzip.decompress((datasets / "nsl-kdd" / "KDDTrain+_20Percent.txt.gz").read_bytes()).splitlines()
    return b"\n".join(lines[:2500]) + b"\n"


def _train(client, data: bytes, **form) -> dict:  # type: ignore[no-untyped-def]
    fields = {"algorithm": "logistic_regression", "task": "binary", **form}
    r = client.post("/api/v1/models/train", files={"data": ("train.txt", data)}, data=fields)
    assert r.status_code == 202, r.text
    job = r.json()
    deadline = time.monotonic() + 180
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(f"/api/v1/models/jobs/{job['id']}").json()
    return job


def test_train_compare_activate_delete(sqlite_web, kdd_bytes: bytes) -> None:  # type: ignore[no-untyped-def]
    analyst, viewer, admin = sqlite_web.client("analyst"), sqlite_web.client("viewer"), sqlite_web.client("admin")
    assert viewer.get("/api/v1/models").json() == {"models": []}
    names = {a["name"] for a in viewer.get("/api/v1/models/algorithms").json()["algorithms"]}
    assert {"random_forest", "isolation_forest", "logistic_regression"} <= names

    job = _train(analyst, kdd_bytes, name="office", params="C=0.5")
    assert job["state"] == "done" and job["model"] == "office:1" and job["fraction"] == 1.0
    job2 = _train(analyst, kdd_bytes, name="office", algorithm="random_forest", params="n_estimators=20",
                  task="category")
    assert job2["model"] == "office:2"

    listed = viewer.get("/api/v1/models").json()["models"]
    assert [m["ref"] for m in listed] == ["office:1", "office:2"]
    assert listed[0]["params"]["C"] == 0.5 and "roc" not in listed[0]["metrics"]
    full = viewer.get("/api/v1/models/office:1").json()
    assert full["metrics"]["confusion"]["labels"] == ["normal", "attack"] and len(full["metrics"]["roc"]["fpr"]) > 2
    assert full["data"]["rows"] == 2500 and full["data"]["test_rows"] == 750
    compared = viewer.get("/api/v1/models/compare", params={"refs": "office:1,office:2"}).json()["models"]
    assert [m["ref"] for m in compared] == ["office:1", "office:2"] and "category" in compared[1]["metrics"]

    assert viewer.post("/api/v1/models/office:1/activate").status_code == 403
    assert analyst.post("/api/v1/models/office:1/activate").json()["active"] is True
    assert analyst.post("/api/v1/models/office:2/activate").status_code == 200  # one version per name
    assert [m["active"] for m in viewer.get("/api/v1/models").json()["models"]] == [False, True]
    assert analyst.post("/api/v1/models/office:2/deactivate").json()["active"] is False

    flood = {"protocol_type": "tcp", "service": "private", "flag": "S0", "src_bytes": 0, "dst_bytes": 0,
             "count": 300, "serror_rate": 1.0, "dst_host_serror_rate": 1.0}
    verdict = viewer.post("/api/v1/models/office:1/predict", json=flood).json()
    assert verdict["alert"] is True and verdict["model"] == "office:1" and verdict["explanation"]

    page = viewer.get("/models")
    assert page.status_code == 200 and "office:2" in page.text and "Train a model" not in page.text
    assert "Train a model" in analyst.get("/models").text

    assert analyst.delete("/api/v1/models/office:1").status_code == 403
    assert admin.delete("/api/v1/models/office:1").status_code == 200
    assert viewer.get("/api/v1/models/office:1").status_code == 404


def test_bad_input_is_a_clear_4xx(sqlite_web, kdd_bytes: bytes) -> None:  # type: ignore[no-untyped-def]
    analyst = sqlite_web.client("analyst")
    post = lambda data=kdd_bytes, **form: analyst.post(  # noqa: E731
        "/api/v1/models/train", files={"data": ("x.txt", data)}, data={"algorithm": "knn", **form})
    assert "unknown algorithm" in post(algorithm="magic").json()["detail"]
    assert "key=value" in post(params="k").json()["detail"]
    assert "unknown parameter" in post(params="k=3").json()["detail"]
    assert "bad model name" in post(name="../x").json()["detail"]
    assert post(data=b"").status_code == 400
    assert post(task="regression").status_code == 422
    assert analyst.get("/api/v1/models/no-such").status_code == 404
    assert analyst.get("/api/v1/models/<script>").status_code in (404, 422)
    assert analyst.get("/api/v1/models/compare", params={"refs": ""}).status_code == 400
    assert analyst.get("/api/v1/models/jobs/nope").status_code == 422
    assert analyst.post("/api/v1/models/nothing/predict", json={"a": 1}).status_code == 404

    failed = _train(analyst, b"\x00\x01\x02 not a dataset\n" * 50, algorithm="knn")
    assert failed["state"] == "failed" and failed["error"] and "Traceback" not in failed["error"]

    board = board_of(type("R", (), {"app": sqlite_web.app})())
    board.jobs["f" * 32] = TrainingJob("f" * 32, "knn", "x", "someone")  # a training in progress
    assert post().status_code == 409
    del board.jobs["f" * 32]


def test_odd_records_to_check_never_break(sqlite_web, kdd_bytes: bytes) -> None:  # type: ignore[no-untyped-def]
    analyst = sqlite_web.client("analyst")
    assert _train(analyst, kdd_bytes, name="m")["state"] == "done"
    for record in ({}, {"src_bytes": "lots", "service": ["x"], "flag": {"a": 1}},
                   {"timestamp": 12, "src_port": "x", "label": None}):
        r = analyst.post("/api/v1/models/m/predict", json=record)
        assert r.status_code == 200, r.text
        assert 0.0 <= r.json()["score"] <= 1.0
    assert analyst.post("/api/v1/models/m/predict", json={"timestamp": "soon"}).status_code == 400
    assert analyst.post("/api/v1/models/m/predict", json={f"k{i}": i for i in range(300)}).status_code == 400
    assert analyst.post("/api/v1/models/m/predict", json=[1, 2]).status_code == 422


def test_huge_model_references_are_4xx_not_500(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    admin = sqlite_web.client("admin")
    huge = "1" * 40  # more digits than any engine's integer holds
    for ref in (huge, f"name:{'9' * 9}", "9223372036854775808", "0"):
        answers = [admin.get(f"/api/v1/models/{ref}"), admin.post(f"/api/v1/models/{ref}/activate"),
                   admin.post(f"/api/v1/models/{ref}/deactivate"), admin.delete(f"/api/v1/models/{ref}"),
                   admin.post(f"/api/v1/models/{ref}/predict", json={"a": 1}),
                   admin.get("/api/v1/models/compare", params={"refs": f"{ref},{ref}"})]
        assert [a.status_code for a in answers] == [404] * 5 + [answers[5].status_code], ref
        assert 400 <= answers[5].status_code < 500, answers[5].text
        assert all("detail" in a.json() for a in answers)


def test_activating_a_model_that_cannot_score_is_409_with_the_reason(sqlite_web, kdd_bytes: bytes,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path) -> None:
    from netwarden.learn import data
    from netwarden.learn.base import create
    from netwarden.web.api.models import registry_of

    (tmp_path / "kdd.txt").write_bytes(kdd_bytes)
    events = data.load_file(tmp_path / "kdd.txt", limit=300).events
    broken = create("knn", n_neighbors=400).fit(events, data.targets(events, "binary"))  # k > rows kept
    registry = registry_of(type("R", (), {"app": sqlite_web.app})())
    record = registry.add(broken, name="broken", data={}, metrics={})
    answer = sqlite_web.client("analyst").post(f"/api/v1/models/{record.ref}/activate")
    assert answer.status_code == 409 and "cannot score records" in answer.json()["detail"]
    assert registry.active() == []
