"""The Models page in Debian's Chromium: train from an uploaded file with a progress bar, compare two models
(confusion matrices, ROC chart), activate; labels from the uploaded data are shown as text, never run."""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.conftest import CHROMIUM, analyst_server, logged_in_context

HOSTILE = '<img src=x onerror="window.__pwned=1">'
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with analyst_server(tmp_path_factory.mktemp("models")) as running:
        yield running


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, datasets: Path) -> tuple[Path, Path]:
    """An NSL-KDD sample, and a generic CSV whose SYN-flood class is named like an XSS payload."""

    def label(name: str) -> str:
        return name if name == "normal" else HOSTILE if name == "neptune" else "other-attack"

    folder = tmp_path_factory.mktemp("uploads")
    lines = gzip.decompress((datasets / "nsl-kdd" / "KDDTrain+_20Percent.txt.gz").read_bytes()).decode()
    rows = lines.splitlines()[:2000]
    (folder / "kdd.txt").write_text("\n".join(rows) + "\n")
    with (folder / "flows.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["protocol_type", "service", "flag", "src_bytes", "dst_bytes", "count", "serror_rate", "class"])
        for row in rows:
            c = row.split(",")
            out.writerow([c[1], c[2], c[3], c[4], c[5], c[22], c[24], label(c[41])])
    return folder / "kdd.txt", folder / "flows.csv"


def test_train_compare_activate_in_the_browser(server, files) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    url, session = server
    kdd, flows = files
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = logged_in_context(browser, url, session).new_page()
        page.set_default_timeout(120_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/models")
        assert page.locator("#models-empty").is_visible()

        page.set_input_files("#t-data", str(kdd))
        page.select_option("#t-algorithm", "random_forest")
        page.fill("#t-name", "kdd-forest")
        page.fill("#t-params", "n_estimators=20")
        page.click("#train-submit")
        page.wait_for_selector("#train-progress:not(.d-none)")
        page.wait_for_selector("tr[data-ref='kdd-forest:1']")  # the page reloads when the job is done

        page.set_input_files("#t-data", str(flows))
        page.select_option("#t-algorithm", "logistic_regression")
        page.select_option("#t-task", "category")
        page.fill("#t-name", "flows")
        page.fill("#t-label", "class")
        page.click("#train-submit")
        page.wait_for_selector("tr[data-ref='flows:1']")

        page.check("input.nw-compare[value='kdd-forest:1']")
        page.check("input.nw-compare[value='flows:1']")
        page.click("#compare-button")
        page.wait_for_selector(".nw-compared[data-ref='flows:1'] table.nw-matrix")
        assert page.locator(".nw-compared").count() == 2
        matrix_text = page.locator(".nw-compared[data-ref='flows:1']").inner_text()
        assert HOSTILE in matrix_text  # the uploaded label, as text
        assert page.locator("#roc-card").is_visible()
        assert page.locator("#roc-chart").bounding_box()["height"] > 100  # type: ignore[index]

        page.click("button.nw-action[data-action='activate'][data-ref='kdd-forest:1']")
        page.wait_for_selector("tr[data-ref='kdd-forest:1'] .badge:text('active')")
        assert page.evaluate("window.__pwned") is None and page.locator("img[src=x]").count() == 0
        assert not [e for e in errors if re.search("Content Security Policy|Refused|TypeError", e)], errors
        browser.close()


@pytest.fixture(scope="module")
def shop_file(tmp_path_factory: pytest.TempPathFactory, datasets: Path) -> Path:
    """A labelled access log from the test shop: CSIC normal requests replayed, and generated XSS and path
    probing, the attack phase labelled like an XSS payload."""
    from netwarden.learn import data
    from netwarden.simulate import webshop

    events = data.load_file(datasets / "csic-2010" / "normalTrafficTraining.txt.gz", limit=1_500).events
    path = tmp_path_factory.mktemp("shop") / "shop.jsonl"
    with webshop.Shop(path) as shop:
        webshop.send(shop.url, webshop.shapes_of(events))
        shapes = webshop.shapes_of(events)
        for family, label in (("xss", HOSTILE), ("probe", "probe")):
            shop.label = label
            webshop.send(shop.url, webshop.attacks(family, shapes, 60, seed=5))
    return path


def test_compare_web_request_models_in_the_browser(server, shop_file: Path) -> None:  # type: ignore[no-untyped-def]
    """Two http_profile models (1 % and 5 % calibrated false positives) trained from the page on the shop's
    labelled log, compared: a confusion matrix each, ROC curves, the other model's higher alert rate."""
    from playwright.sync_api import sync_playwright

    url, session = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = logged_in_context(browser, url, session).new_page()
        page.set_default_timeout(120_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/models")
        for name, fpr in (("web-strict", "0.01"), ("web-loose", "0.05")):
            page.set_input_files("#t-data", str(shop_file))
            page.select_option("#t-algorithm", "http_profile")
            page.fill("#t-name", name)
            page.fill("#t-params", f"fpr={fpr}")
            page.click("#train-submit")
            page.wait_for_selector(f"tr[data-ref='{name}:1']")
        page.check("input.nw-compare[value='web-strict:1']")
        page.check("input.nw-compare[value='web-loose:1']")
        page.click("#compare-button")
        page.wait_for_selector(".nw-compared[data-ref='web-loose:1'] table.nw-matrix")
        assert page.locator(".nw-compared").count() == 2
        assert page.locator("#roc-card").is_visible()
        cells = [[int(c.replace(",", "")) for c in page.locator(f".nw-compared[data-ref='{ref}'] table.nw-matrix tbody tr")
                  .nth(0).locator("td").all_inner_texts()] for ref in ("web-strict:1", "web-loose:1")]
        assert sum(cells[0]) == sum(cells[1]) > 100  # the same normal test rows in both
        assert cells[0][1] <= cells[1][1]  # the looser threshold flags at least as many of them
        assert page.evaluate("window.__pwned") is None and not errors, errors
