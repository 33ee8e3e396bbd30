"""Property tests against the OpenAPI description: no input generated from the schema makes a 500."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from netwarden.store.database import Database
from tests.web.conftest import Web, make_settings

# the schema must exist when pytest collects (one test per operation), so the app is built at import
_DIR = tempfile.TemporaryDirectory(prefix="netwarden-schemathesis-")
_SETTINGS = make_settings()
# imported Sigma rules go to a relative folder by default: generated uploads must land here, not in the checkout
_SETTINGS.detect["sigma"] = {"imported": str(Path(_DIR.name) / "sigma")}
_WEB = Web(Database.open(f"sqlite:///{Path(_DIR.name) / 'web.db'}"), _SETTINGS)
_TOKEN = _WEB.token("admin")


@pytest.fixture(scope="module", autouse=True)
def _close_app():  # type: ignore[no-untyped-def]
    """The app built at import runs the intake's pipeline once asked: its block-expiry sweeper must stop with
    the module, not outlive the temporary folder ("no such table: blocks")."""
    yield
    _WEB.close()
    _WEB.db.close()


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value) -> bytes:  # type: ignore[no-untyped-def]
    """The intake's body: whatever was generated, as text lines (mostly not events: they must be quarantined)."""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else str(value).encode()


schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", _WEB.app)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_a_server_error(case) -> None:  # type: ignore[no-untyped-def]
    # the admin's token reaches every route; deleting tokens could revoke it, so that one operation is skipped
    if case.method == "DELETE" and "/tokens/" in case.path:
        return
    if case.path.endswith("/live/poll") and isinstance(case.query, dict):
        case.query["timeout"] = 0  # a long poll would only wait
    response = case.call(headers={"Authorization": f"Bearer {_TOKEN}"})
    assert response.status_code < 500, \
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        assert "detail" in response.json()  # every error is JSON that says what was wrong
