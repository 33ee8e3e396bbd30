"""Response settings changed in the web app: validated like the file, applied to the running responder at
once, recorded (who, when, what), shown as coming from the web app, reset to the file's value, and applied
again after a restart. On every engine; the page in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.web.app import create_app
from tests.web.conftest import CHROMIUM, analyst_server, chromium_page


def _respond(web):  # type: ignore[no-untyped-def]
    from netwarden.web.api.blocks import responder_of

    class _Request:
        app = web.app
    return responder_of(_Request())  # type: ignore[arg-type]


def test_change_apply_audit_reset_and_restart(web) -> None:  # type: ignore[no-untyped-def]
    admin, analyst = web.client("admin"), web.client("analyst")
    before = admin.get("/api/v1/settings/live").json()
    assert {v["key"]: v["origin"] for v in before["values"]}["respond.threshold"] == "file"
    responder = _respond(web)
    assert responder.settings.threshold == 0.8 and not responder.never_block.refusal(_net("198.51.100.7"))

    changed = admin.put("/api/v1/settings/live", json={"changes": {
        "respond.threshold": 0.95, "respond.never_block": ["198.51.100.0/24"]}})
    assert changed.status_code == 200, changed.text
    values = {v["key"]: v for v in changed.json()["values"]}
    assert values["respond.threshold"]["value"] == 0.95 and values["respond.threshold"]["origin"] == "web app"
    assert values["respond.threshold"]["file_value"] == 0.8 and values["respond.threshold"]["changed_by"] == "admin"
    # applied to the running responder, no restart: a manual block inside the new never-block list is refused
    assert responder.settings.threshold == 0.95 and responder.never_block.refusal(_net("198.51.100.7"))
    refused = analyst.post("/api/v1/blocks", json={"address": "198.51.100.7"})
    assert refused.status_code == 409

    trail = changed.json()["history"]
    assert {(h["key"], h["old"] if not isinstance(h["old"], list) else tuple(h["old"])) for h in trail} == {
        ("respond.threshold", 0.8), ("respond.never_block", ())}

    for bad, word in ((1.5, "less than or equal to 1"), ("x", "valid number")):
        answer = admin.put("/api/v1/settings/live", json={"changes": {"respond.threshold": bad}})
        assert answer.status_code == 400 and "respond.threshold" in answer.json()["detail"] and word in answer.json()["detail"]
    assert admin.put("/api/v1/settings/live", json={"changes": {"respond.never_block": ["nope"]}}).status_code == 400
    assert admin.put("/api/v1/settings/live", json={"changes": {"database.url": "x"}}).status_code == 400
    assert analyst.put("/api/v1/settings/live", json={"changes": {"respond.threshold": 0.5}}).status_code == 403
    assert responder.settings.threshold == 0.95  # refused changes changed nothing

    restarted = create_app(_fresh_settings(), web.db)
    assert restarted.state.settings.respond.threshold == 0.95  # stored changes apply at start

    reset = admin.put("/api/v1/settings/live", json={"changes": {"respond.threshold": None}}).json()
    values = {v["key"]: v for v in reset["values"]}
    assert values["respond.threshold"]["origin"] == "file" and values["respond.threshold"]["value"] == 0.8
    assert reset["history"][0]["reset"] is True and responder.settings.threshold == 0.8


def _net(text: str):  # type: ignore[no-untyped-def]
    from netwarden.networks import parse_network

    return parse_network(text)


def _fresh_settings():  # type: ignore[no-untyped-def]
    from netwarden.config import Settings

    return Settings()


pytestmark_browser = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


@pytestmark_browser
def test_settings_page_applies_live(tmp_path: Path) -> None:
    from netwarden.accounts import users as accounts
    from netwarden.accounts.sessions import create_session
    from netwarden.config import Settings
    from netwarden.store.database import Database
    from tests.web.conftest import PASSWORD

    with analyst_server(tmp_path) as (url, _):
        db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
        accounts.add_user(db, "boss", PASSWORD, "admin")
        session = create_session(db, accounts.get_user(db, "boss").id, "127.0.0.1", Settings().web)  # type: ignore[union-attr]
        db.close()
        with chromium_page(url, session) as page:
            page.goto(f"{url}/settings")
            page.fill("#ls-threshold", "0.9")
            page.select_option("#ls-mode", "dry-run")
            page.fill("#ls-never", "203.0.113.0/24\n2001:db8::/32")
            page.click("#ls-apply")
            page.wait_for_selector("#settings-message")
            row = page.locator("#live-values tr[data-key='respond.threshold']")
            assert "web app (boss" in row.locator("[data-origin]").inner_text()
            assert page.locator("#live-history tbody tr").count() == 2  # threshold and never-block changed
            page.fill("#ls-threshold", "2")
            page.click("#ls-apply")
            assert "respond.threshold" in page.inner_text("#settings-error")
            page.click("#ls-reset-respond-threshold")
            page.wait_for_selector("#settings-message")
            assert page.locator("#live-values tr[data-key='respond.threshold'] [data-origin]").inner_text() == "file"
            assert page.errors == [] or all("400" in e for e in page.errors)
