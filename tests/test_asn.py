"""AS numbers offline: the parser on a small file made here (quoted organisations with commas, IPv6, gaps),
the bundled RouteViews/DB-IP data when scripts/setup installed it (the host page: tests/web/test_host_as.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.enrich.asn import FILES, PACKAGE, AsnDatabase


def test_ranges_from_a_small_file(tmp_path: Path) -> None:
    folder = tmp_path / PACKAGE
    folder.mkdir(parents=True)
    (folder / FILES[4]).write_text('16777216,16777471,13335,"Cloudflare, Inc."\n'
                                   '134744064,134744319,15169,Google LLC\n'
                                   '3405803776,3405804031,0,\n')  # 203.0.113.0/24: a range with no AS
    (folder / FILES[6]).write_text("42541956101370907050197289607612071936,"
                                   "42541956180599069564461627201156022271,15169,Google LLC\n")
    db = AsnDatabase.bundled(tmp_path)
    assert db is not None
    assert db.lookup("1.0.0.1").label() == "AS13335 Cloudflare, Inc."
    assert db.lookup("8.8.8.8").number == 15169 and db.lookup("::ffff:8.8.8.8").number == 15169
    assert db.lookup("2001:4860:4860::8888").organisation == "Google LLC"
    for nothing in ("1.0.1.0", "8.8.9.0", "10.1.2.3", "203.0.113.5", "::1", "not an address", "255.255.255.255"):
        assert db.lookup(nothing) is None, nothing
    assert AsnDatabase.bundled(tmp_path / "elsewhere") is None  # not installed: no AS, no error


def test_bundled_data() -> None:
    db = AsnDatabase.bundled()
    if db is None:
        pytest.skip("the AS data (npm @ip-location-db/asn) is not installed: run scripts/setup")
    assert db.lookup("1.1.1.1").number == 13335
    assert db.lookup("8.8.8.8").number == 15169
    assert db.lookup("2001:4860:4860::8888").number == 15169
    assert db.lookup("192.168.1.1") is None

