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
