"""The model lab's Data view and Test tab: the API (preprocessed rows, windows of a sequence model, drift,
testing on an uploaded labelled file, per-row CSV, clear 4xx), and the page in Debian's Chromium."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from netwarden.config import Settings
from netwarden.learn import data
from netwarden.learn.base import create
from netwarden.learn.evaluation import calibration_summary
from netwarden.learn.preview import preview
from netwarden.learn.registry import open_registry
from netwarden.records import Event
from netwarden.simulate import webshop
from netwarden.store import alerts as alert_store
from netwarden.store.database import Database
from netwarden.store.events import insert_events
from tests.web.conftest import CHROMIUM, analyst_server, logged_in_context

pytestmark = pytest.mark.datasets
HOSTILE = '<img src=x onerror="window.__pwned=1">'
T0 = datetime.now(UTC) - timedelta(hours=1)


@pytest.fixture(scope="module")
def shop(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """CSIC normal requests to learn from, and a labelled shop log: normal, XSS, and probes labelled HOSTILE."""
    events = data.load_file(datasets / "csic-2010" / "normalTrafficTraining.txt.gz", limit=2_500).events
    folder = tmp_path_factory.mktemp("lab")
    with webshop.Shop(folder / "labelled.jsonl") as s:
        webshop.send(s.url, webshop.shapes_of(events[2_000:2_300]))
        s.label = "xss"
        webshop.send(s.url, webshop.attacks("xss", webshop.shapes_of(events[:2_000]), 30, seed=4))
        s.label = HOSTILE
        webshop.send(s.url, webshop.attacks("probe", webshop.shapes_of(events[:2_000]), 20, seed=4))
    labelled = data.load_file(folder / "labelled.jsonl").events
    for i, e in enumerate(labelled):  # stored as recent traffic, a second apart, from a few sources
        e.timestamp = T0 + timedelta(seconds=i)
        e.src_ip = f"198.51.100.{i % 7}"
    return {"train": events[:2_000], "labelled": labelled, "file": folder / "labelled.jsonl"}


def test_preview_shows_what_each_kind_of_model_sees(shop: dict) -> None:
    web = create("http_profile").fit(shop["train"])
    p = preview(web, shop["labelled"], 5)
    assert p["kind"] == "requests" and len(p["rows"]) == 5 and p["columns"][1] == "path template"
    assert any("never" in row[3] for row in p["rows"])  # the last rows are probes: findings in words
    forest = create("isolation_forest", n_estimators=20).fit(shop["labelled"])
    t = preview(forest, shop["labelled"], 3)
    assert t["kind"] == "tabular" and "url_length" in t["columns"] and len(t["rows"][0]) == len(t["columns"])
    labels = data.targets(shop["labelled"], "binary")
    lstm = create("lstm", timesteps=4, epochs=1, hidden_size=8).fit(shop["labelled"], labels)
    s = preview(lstm, shop["labelled"], 6)
    assert s["kind"] == "sequence" and len(s["windows"]) == 6
    last = s["windows"][-1]
    assert len(last["steps"]) == 4 and last["steps"][-1] == 6  # its own row closes its window
    same_source = [w["row"] for w in s["windows"] if w["source"] == last["source"]]
    assert all(step in same_source or step is None or step <= 0 for step in last["steps"])


def _live_counts(db: Database) -> None:
    """What the ml detector would have saved after judging 400 events live with model shop:1 (an hour of
    ordinary traffic, then an hour with 60 flagged)."""
    hour = int(T0.timestamp()) // 3600
    with db.engine.begin() as conn:
        alert_store.save_state(conn, "ml", {"live": {"shop:1": {str(hour - 1): [200, 1], str(hour): [200, 60]}}})


def _prepare(shop: dict, folder: Path):  # type: ignore[no-untyped-def]
    def prepare(db: Database) -> None:
        with db.engine.begin() as conn:
            insert_events(conn, shop["labelled"])
        settings = Settings()
        settings.database.url = str(db.engine.url)
        settings.learn.models_dir = str(folder / "netwarden-models")
        registry = open_registry(db, settings)
        web = create("http_profile").fit(shop["train"])
        held = np.asarray(web.score(shop["labelled"][:300]))  # the shop's normal requests
        registry.add(web, name="shop", data={},
                     metrics={"calibration": calibration_summary(held, web.threshold, len(shop["train"]), fpr=0.01)})
        sequence = create("lstm", timesteps=4, epochs=1, hidden_size=8)
        registry.add(sequence.fit(shop["labelled"], data.targets(shop["labelled"], "binary")), name="seq", data={},
                     metrics={})
        _live_counts(db)
    return prepare


def test_lab_api(shop: dict, sqlite_web) -> None:  # type: ignore[no-untyped-def]
    db = sqlite_web.db
    with db.engine.begin() as conn:
        insert_events(conn, shop["labelled"])
    registry = open_registry(db, sqlite_web.settings)
    registry.add(create("http_profile").fit(shop["train"]), name="shop", data={}, metrics={})
    viewer = sqlite_web.client("viewer")
    body = viewer.get("/api/v1/models/shop/data?rows=8").json()
    assert body["preview"]["kind"] == "requests" and len(body["preview"]["rows"]) == 8
    assert body["drift"]["rows"] == len(shop["labelled"]) and body["drift"]["warning"]  # 50 of 350 flagged
    assert body["drift"]["fpr_upper"] is None  # trained without a calibration
    assert body["live"]["scored"] == 0 and body["live"]["warning"] is None  # the detector never ran
    _live_counts(db)
    counted = viewer.get("/api/v1/models/shop/data?rows=8").json()["live"]
    assert (counted["scored"], counted["flagged"], counted["hours_over"]) == (400, 61, 1)
    assert counted["warning"].startswith("live: the model flagged 15.25% of the 400 events")
    r = viewer.post("/api/v1/models/shop/test", files={"data": ("t.jsonl", shop["file"].read_bytes())})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["metrics"]["rows"] == 350 and result["metrics"]["confusion"]["labels"] == ["normal", "attack"]
    assert result["metrics"]["by_label"]["xss"]["flagged"] >= 0.9
    rows = viewer.get(result["rows_url"])
    assert rows.status_code == 200 and rows.headers["content-type"].startswith("text/csv")
    assert len(list(csv.DictReader(io.StringIO(rows.text)))) == 350
    unlabelled = "\n".join(json.dumps({"source_kind": "access_log", "url": "/x"}) for _ in range(3))
    bad = viewer.post("/api/v1/models/shop/test", files={"data": ("u.jsonl", unlabelled.encode())})
    assert bad.status_code == 400 and "carry no label" in bad.json()["detail"]
    assert viewer.get("/api/v1/models/tests/" + "0" * 32 + "/rows.csv").status_code == 404
    assert viewer.get("/api/v1/models/nothing/data").status_code == 404


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_lab_in_the_browser(shop: dict, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with analyst_server(tmp_path, _prepare(shop, tmp_path)) as (url, session), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = logged_in_context(browser, url, session).new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/models")
        page.select_option("#lab-model", "shop:1")
        page.click("#lab-data-load")
        page.wait_for_selector("#lab-rows tbody tr")
        assert page.locator("#lab-rows tbody tr").count() == 10
        assert "path template" in page.inner_text("#lab-rows thead")
        assert page.locator("#lab-drift-warning").is_visible()
        assert "flags" in page.inner_text("#lab-drift-warning")
        assert "live: the model flagged" in page.inner_text("#lab-drift-warning")
        assert "61 of 400 events flagged while active" in page.inner_text("#lab-live")
        assert "false positives on new normal traffic at most" in page.inner_text("#lab-drift")
        assert "with 95 % confidence on 300 normal rows (target 1.00 %)" in page.inner_text("#lab-drift")
        assert "1 of 2 hours over" in page.inner_text("#lab-live")

        page.click("#lab-tab-test")
        page.set_input_files("#lab-test-file", str(shop["file"]))
        page.click("#lab-test-run")
        page.wait_for_selector("#lab-test-result:not(.d-none)")
        assert "350 rows" in page.inner_text("#lab-test-metrics") and "testing time" in page.inner_text("#lab-test-metrics")
        assert page.locator("#lab-test-matrix tbody tr").count() == 2
        assert HOSTILE in page.inner_text("#lab-test-labels")  # shown as text...
        assert page.evaluate("window.__pwned") is None  # ...never run
        with page.expect_download() as download:
            page.click("#lab-test-rows")
        text = Path(download.value.path()).read_text()
        assert text.startswith("row,label,truth,score,alert,explanation") and len(text.splitlines()) == 351

        # a sequence model: its encoded rows, and the window of earlier rows of the same source each one reads
        page.click("#lab-tab-data")
        assert page.locator("#lab-windows tbody tr").count() == 0  # a request model has no windows
        page.select_option("#lab-model", "seq:1")
        page.click("#lab-data-load")
        page.wait_for_selector("#lab-windows tbody tr")
        assert page.locator("#lab-windows tbody tr").count() == 10
        assert "window (rows, oldest first" in page.inner_text("#lab-windows thead")
        assert "standardised" in page.inner_text("#lab-note") and "path template" not in page.inner_text("#lab-rows")
        last = page.locator("#lab-windows tbody tr").last.locator("td")
        steps = last.nth(2).inner_text().split(" → ")
        assert len(steps) == 4 and steps[-1] == last.nth(0).inner_text()  # its own row closes its window
        assert not errors, errors
        browser.close()


def test_lab_says_how_sure_the_calibrated_rate_is(shop: dict, sqlite_web) -> None:  # type: ignore[no-untyped-def]
    """The Data view carries the calibration's upper bound (as ``model show`` prints it), and drops it once the
    threshold was moved away from the one the bound was computed for."""
    model = create("http_profile").fit(shop["train"][:1_500])
    held = model.score(shop["train"][1_500:2_000])
    calibration = calibration_summary(np.asarray(held), model.threshold, 1_500, fpr=0.01)
    registry = open_registry(sqlite_web.db, sqlite_web.settings)
    with sqlite_web.db.engine.begin() as conn:
        insert_events(conn, shop["labelled"][:50])
    registry.add(model, name="sure", data={}, metrics={"calibration": calibration})
    viewer = sqlite_web.client("viewer")
    bound = viewer.get("/api/v1/models/sure/data?rows=2").json()["drift"]["fpr_upper"]
    assert bound == {"rate": calibration["fpr_upper"], "confidence": 0.95, "rows": 500, "target": 0.01}
    assert 0 <= calibration["calibrated_fpr"] <= bound["rate"] <= 1
    moved = dict(calibration, threshold=calibration["threshold"] / 2 + 0.001)
    registry.add(model, name="moved", data={}, metrics={"calibration": moved})
    assert viewer.get("/api/v1/models/moved/data?rows=2").json()["drift"]["fpr_upper"] is None
