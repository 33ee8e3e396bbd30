"""The host page shows an address's autonomous system from the offline data (netwarden.enrich.asn)."""

from __future__ import annotations

import pytest

from netwarden.enrich.asn import AsnDatabase


def test_host_page_shows_the_as(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    if AsnDatabase.bundled() is None:
        pytest.skip("the AS data (npm @ip-location-db/asn) is not installed: run scripts/setup")
    viewer = sqlite_web.client("viewer")
    assert viewer.get("/api/v1/hosts/8.8.8.8").json()["as"]["number"] == 15169
    assert "AS15169 Google LLC" in viewer.get("/hosts/8.8.8.8").text
    assert viewer.get("/api/v1/hosts/10.0.0.1").json()["as"] is None
