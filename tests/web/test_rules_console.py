"""The Rules page and API: threshold rules written as TOML (applied live, in the trail, bad ones refused with
the field), Sigma files imported (compiled first; ATT&CK tags shown) and both tried on the stored history
before they are used (nothing stored). Then the page in Chromium, with a hostile rule title."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netwarden.config import Settings
from netwarden.pipeline import Pipeline
from netwarden.store.database import Database
from tests.test_backtest import row_counts
from tests.web.conftest import ARTIFACTS, CHROMIUM, analyst_server, chromium_page

SIGMA = Path(__file__).resolve().parents[1] / "data" / "sigma" / "webshell.yml"
RULE = '''[[rules]]
name = "root_guessing"
description = "failed root logins from one address"
where = { outcome = "failure", user = "root" }
count = 5
window = "10m"
severity = "high"
tags = ["attack.t1110"]
'''


def history(db: Database, folder: Path) -> None:
    """Root password guessing (6 failures) and a web shell call, stored with the built-in detectors."""
    auth, access = folder / "auth.log", folder / "access.log"
    auth.write_text("".join(f"Dec  4 10:00:0{i} gw sshd[41{i}]: Failed password for root from 203.0.113.50 "
                            f"port 5{i}000 ssh2\n" for i in range(6)))
    access.write_text('203.0.113.9 - - [04/Dec/2026:10:00:00 +0000] "GET /up/x.php?cmd=id HTTP/1.1" 200 12 "-" '
                      '"curl/8"\n203.0.113.10 - - [04/Dec/2026:10:00:01 +0000] "GET /index.html HTTP/1.1" 200 9 '
                      '"-" "Mozilla/5.0"\n')
    settings = Settings()
    settings.ingest.timezone = "UTC"
    pipeline = Pipeline.from_settings(db, settings)
    try:
        pipeline.ingest_file(auth)
        pipeline.ingest_file(access, fmt="access_log")
    finally:
        pipeline.close()


def _finish(client, job):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/v1/backtest/{job['id']}").json()
    return job


def test_rules_api(sqlite_web, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # the folder of imported Sigma rules is relative
    history(sqlite_web.db, tmp_path)
    admin, analyst = sqlite_web.client("admin"), sqlite_web.client("analyst")
    before = row_counts(sqlite_web.db)

    tried = admin.post("/api/v1/backtest", json={"since": "3650d", "threshold_rules": RULE})
    assert tried.status_code == 202, tried.text
    gained = _finish(admin, tried.json())["result"]["alerts"]["gained"]
    assert [(g["kind"], g["subkind"], g["source"]) for g in gained] == [("threshold", "root_guessing", "203.0.113.50")]
    tried = _finish(admin, admin.post("/api/v1/backtest", json={"since": "3650d", "sigma": SIGMA.read_text()}).json())
    assert [(g["kind"], g["source"]) for g in tried["result"]["alerts"]["gained"]] == [("sigma", "203.0.113.9")]
    assert row_counts(sqlite_web.db) == before  # tries store nothing
    bad = admin.post("/api/v1/backtest", json={"threshold_rules": "[[rules]]\nname = 'x'\ncount = 1\n"})
    assert bad.status_code == 400 and "rules.0.count" in bad.json()["detail"]
    bad = admin.post("/api/v1/backtest", json={"sigma": "title: t\nlogsource: {category: webserver}\ndetection: {s: {EventID: 1}, "
                                                       "condition: s}\n"})
    assert bad.status_code == 400 and "EventID" in bad.json()["detail"] and "/tmp" not in bad.json()["detail"]

    assert analyst.put("/api/v1/rules/threshold", json={"toml": RULE}).status_code == 403
    applied = admin.put("/api/v1/rules/threshold", json={"toml": RULE})
    assert applied.status_code == 200, applied.text
    assert applied.json()["threshold"]["rules"][0]["name"] == "root_guessing"
    assert "root_guessing" in analyst.get("/api/v1/rules").json()["threshold"]["toml"]
    trail = admin.get("/api/v1/settings/live").json()["history"]
    assert trail[0]["key"] == "detect.threshold" and trail[0]["changed_by"] == "admin"
    for text, word in (("[[rules]\n", "not valid TOML"), ("[other]\nx=1\n", "only [[rules]]"),
                       ("[[rules]]\nname='a'\ncount=3\nwhere={nope=1}\n", "unknown event field")):
        answer = admin.put("/api/v1/rules/threshold", json={"toml": text})
        assert answer.status_code == 400 and word in answer.json()["detail"], answer.text

    assert analyst.post("/api/v1/rules/sigma", json={"name": "w.yml", "text": SIGMA.read_text()}).status_code == 403
    imported = admin.post("/api/v1/rules/sigma", json={"name": "../../webshell.yml", "text": SIGMA.read_text()})
    assert imported.status_code == 200, imported.text
    rule = imported.json()["sigma"][0]
    assert rule["title"] == "Web shell command in a PHP request" and rule["attack"] == ["attack.persistence",
                                                                                       "attack.t1505.003"]
    assert (tmp_path / "netwarden-rules" / "sigma" / "webshell.yml").is_file()  # the name cannot climb out
    engine = sqlite_web.app.state.runtime.intake_pipeline().engine
    assert [r.title for r in next(d for d in engine.detectors if d.name == "sigma").compiled] == [rule["title"]]
    assert admin.get("/api/v1/settings/live").json()["history"][0]["key"] == "audit.sigma_import"
    refused = admin.post("/api/v1/rules/sigma", json={"name": "x.yml", "text": "not: [yaml"})
    assert refused.status_code == 400 and "not a Sigma rule file" in refused.json()["detail"]
    for empty in ("", "# only a comment\n"):  # nothing to import: refused, not copied in to load nothing
        refused = admin.post("/api/v1/rules/sigma", json={"name": "empty.yml", "text": empty})
        assert refused.status_code == 400 and "no Sigma rule found" in refused.json()["detail"], refused.text
    assert sorted(p.name for p in (tmp_path / "netwarden-rules" / "sigma").iterdir()) == ["webshell.yml"]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_rules_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    hostile = tmp_path / "hostile.yml"
    hostile.write_text(SIGMA.read_text().replace("title: Web shell command in a PHP request",
                                                 "title: '<img src=x onerror=alert(1)> shell'"))
    with analyst_server(tmp_path, lambda db: history(db, tmp_path), role="admin") as (url, session), \
            chromium_page(url, session) as page:
        page.goto(f"{url}/rules")
        page.fill("#threshold-toml", RULE)
        page.fill("#try-since", "3650d")
        page.click("#threshold-try")
        page.wait_for_selector("#threshold-result .try-gained:has-text('+1 alerts')")
        assert "threshold/root_guessing from 203.0.113.50" in page.inner_text("#threshold-result")
        page.click("#threshold-apply")
        page.wait_for_selector("#rules-message:has-text('applied')")
        page.fill("#threshold-toml", "[[rules]]\nname = 'x'\ncount = 1\n")
        page.click("#threshold-apply")
        page.wait_for_selector("#rules-error:has-text('rules.0.count')")

        page.set_input_files("#sigma-file", str(hostile))
        page.click("#sigma-try")
        # the threshold rule applied above is also new to the stored history: both are gained
        page.wait_for_selector("#sigma-result li.bt-gained:has-text('from 203.0.113.9')")
        assert "sigma/" in page.inner_text("#sigma-result li.bt-gained:has-text('from 203.0.113.9')")
        with page.expect_navigation():
            page.click("#sigma-import")
        row = page.locator("#sigma-table tbody tr").first
        assert row.locator("td").first.inner_text().startswith("<img src=x onerror=alert(1)> shell")
        assert "attack.t1505.003" in row.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "rules.png"), full_page=True)
        assert page.dialogs == []
        assert [e for e in page.errors if "400" not in e] == []
