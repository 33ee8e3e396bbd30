"""The Blocked addresses page and ``/api/v1/blocks``: list, block (address or alert), unblock; viewers may
only read; refusals are 4xx with the reason; log-derived text is escaped. On every database engine."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

warnings.filterwarnings("ignore", message=".*httpx2.*")
from fastapi.testclient import TestClient  # noqa: E402

from netwarden.records import Alert, Factor, Severity  # noqa: E402
from netwarden.store import alerts as alert_store  # noqa: E402
from netwarden.store.database import Database  # noqa: E402
from tests.web.conftest import Web, _fast_argon2, make_settings  # noqa: E402, F401 - an autouse fixture


class App(Web):
    """The web app with a responder (gateway 203.0.113.1 never blocked); ``client(None)`` is anonymous."""

    def __init__(self, db: Database) -> None:
        settings = make_settings()
        settings.respond.gateways = ["203.0.113.1"]
        super().__init__(db, settings)

    def client(self, role: str | None) -> TestClient:
        return self.anonymous() if role is None else super().client(role)

    def close(self) -> None:
        super().close()
        responder = self.app.state.runtime.responder
        if responder is not None:
            responder.close()


@pytest.fixture
def web(db: Database) -> Iterator[App]:
    a = App(db)
    yield a
    a.close()


@pytest.fixture
def sqlite_app(sqlite_db: Database) -> Iterator[App]:
    """For tests of the HTTP layer only (the store is exercised on every engine above)."""
    a = App(sqlite_db)
    yield a
    a.close()


def stored_alert(db: Database, source: str) -> int:
    now = datetime.now(timezone.utc)
    alert = Alert(kind="web_attack", subkind="sqli", severity=Severity.MEDIUM, confidence=0.6,
                  factors=[Factor("signature", 0.6, "x")], source=source, target="web01", first_seen=now,
                  last_seen=now, count=1, evidence={}, recommendation="", detector="web_attack")
    with db.engine.begin() as conn:
        return alert_store.save_alert(conn, alert)


def test_api_block_list_unblock(web: App) -> None:
    analyst = web.client("analyst")
    made = analyst.post("/api/v1/blocks", json={"address": "203.0.113.7", "duration": "1h",
                                                "reason": "<script>x</script>"})
    assert made.status_code == 201, made.text
    block = made.json()
    assert (block["network"], block["created_by"], block["state"], block["mode"]) == \
        ("203.0.113.7", "analyst", "active", "dry-run")
    alert_id = stored_alert(web.db, "::ffff:198.51.100.44")
    from_alert = analyst.post("/api/v1/blocks", json={"alert_id": alert_id, "permanent": True}).json()
    assert from_alert["network"] == "198.51.100.44" and from_alert["expires"] is None
    assert from_alert["alert_id"] == alert_id and f"alert #{alert_id}" in from_alert["reason"]
    listed = web.client("viewer").get("/api/v1/blocks").json()["blocks"]
    assert [b["network"] for b in listed] == ["198.51.100.44", "203.0.113.7"]
    gone = analyst.delete(f"/api/v1/blocks/{block['id']}")
    assert gone.status_code == 200 and gone.json()["state"] == "removed" and gone.json()["ended_by"] == "analyst"
    assert analyst.delete(f"/api/v1/blocks/{block['id']}").status_code == 409
    assert analyst.delete("/api/v1/blocks/999999").status_code == 404
    everything = analyst.get("/api/v1/blocks", params={"state": "all"}).json()["blocks"]
    assert {b["state"] for b in everything} == {"active", "removed"}
    assert analyst.get(f"/api/v1/blocks/{block['id']}").json()["reason"] == "<script>x</script>"


@pytest.mark.parametrize("body, status, message", [
    ({"address": "203.0.113.1"}, 409, "never blocked"),  # the gateway
    ({"address": "10.0.0.5"}, 409, "never blocked"),
    ({"address": "not an address"}, 400, "not an IP address"),
    ({"address": "203.0.113.9", "alert_id": 1}, 400, "one of them"),
    ({}, 400, "one of them"),
    ({"address": "203.0.113.9", "duration": "forever"}, 400, "not a duration"),
    ({"alert_id": 424242}, 404, "no alert"),
    ({"address": "x" * 65}, 422, ""),
])
def test_api_refusals_are_4xx_with_a_reason(sqlite_app: App, body: dict, status: int, message: str) -> None:
    response = sqlite_app.client("admin").post("/api/v1/blocks", json=body)
    assert response.status_code == status, response.text
    assert message in response.text


def test_viewers_and_strangers_cannot_change_anything(web: App) -> None:
    analyst = web.client("analyst")
    block = analyst.post("/api/v1/blocks", json={"address": "203.0.113.8"}).json()
    viewer = web.client("viewer")
    assert viewer.post("/api/v1/blocks", json={"address": "203.0.113.9"}).status_code == 403
    assert viewer.delete(f"/api/v1/blocks/{block['id']}").status_code == 403
    assert viewer.post(f"/blocks/{block['id']}/remove").status_code == 403
    assert viewer.post("/blocks", data={"address": "203.0.113.9"}).status_code == 403
    page = viewer.get("/blocks")
    assert page.status_code == 200 and 'id="block-form"' not in page.text and "unblock-" not in page.text
    anonymous = web.client(None)
    assert anonymous.get("/api/v1/blocks").status_code == 401
    assert anonymous.post("/api/v1/blocks", json={"address": "203.0.113.9"}).status_code in (401, 403)
    # a session without the CSRF token cannot change anything either
    del analyst.headers["X-CSRF-Token"]
    assert analyst.post("/api/v1/blocks", json={"address": "203.0.113.9"}).status_code == 403
    active = web.client("admin").get("/api/v1/blocks").json()["blocks"]
    assert [b["network"] for b in active] == ["203.0.113.8"]


def test_page_blocks_unblocks_and_escapes(web: App) -> None:
    analyst = web.client("analyst")
    token = analyst.headers.pop("X-CSRF-Token")
    made = analyst.post("/blocks", data={"csrf": token, "address": "2001:db8:7::1", "duration": "2h",
                                         "reason": "<img src=x onerror=alert(1)>"}, follow_redirects=False)
    assert made.status_code == 303
    page = analyst.get("/blocks").text
    assert "2001:db8:7::/64" in page and "dry-run" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    refused = analyst.post("/blocks", data={"csrf": token, "address": "203.0.113.1"})
    assert refused.status_code == 409 and "never blocked" in refused.text and 'id="blocks-error"' in refused.text
    block_id = re.search(r'id="unblock-(\d+)"', page).group(1)  # type: ignore[union-attr]
    gone = analyst.post(f"/blocks/{block_id}/remove", data={"csrf": token}, follow_redirects=False)
    assert gone.status_code == 303
    assert "No active blocks" in analyst.get("/blocks").text.replace("  ", " ")
    assert "2001:db8:7::/64" in analyst.get("/blocks?state=removed").text
    assert analyst.get("/blocks?state=bogus").status_code in (400, 422)


def test_alert_page_blocks_its_source_in_one_action(web: App) -> None:
    alert_id = stored_alert(web.db, "198.51.100.23")
    analyst = web.client("analyst")
    token = analyst.headers.pop("X-CSRF-Token")
    page = analyst.get(f"/alerts/{alert_id}").text
    form = re.search(r'<form method="post" action="/blocks">(.*?)</form>', page, re.S).group(1)  # type: ignore[union-attr]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    assert fields["alert_id"] == str(alert_id) and 'id="block-source"' in form
    fields["csrf"] = token  # what the browser sends with the form
    assert analyst.post("/blocks", data=fields, follow_redirects=False).status_code == 303
    blocks = web.client("viewer").get("/api/v1/blocks").json()["blocks"]
    assert [(b["network"], b["alert_id"]) for b in blocks] == [("198.51.100.23", alert_id)]
    # a viewer sees the alert but no block button
    assert 'id="block-source"' not in web.client("viewer").get(f"/alerts/{alert_id}").text
