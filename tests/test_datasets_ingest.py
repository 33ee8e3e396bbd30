"""Every file in ../shared/datasets through ``Pipeline.ingest_file(path, "auto")``: the sniffer picks the
right parser, the counts are exact, and files in formats NetWarden does not read are refused.

The small and medium files run on every engine; the big ones (and the full NSL-KDD training set) only
on SQLite, which keeps this module well under a minute on two cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from netwarden.parse import UnknownFormat
from netwarden.pipeline import Pipeline
from netwarden.store import sources as source_store
from netwarden.store.database import Database
from netwarden.store.schema import events, quarantine, rollups

pytestmark = pytest.mark.datasets

# path -> (format the sniffer must choose, events, quarantined, lines skipped: headers/comments/records
# that carry no event)
SUPPORTED: dict[str, tuple[str, int, int, int]] = {
    "loghub/OpenSSH_2k.log": ("syslog", 2000, 0, 0),
    "loghub/Linux_2k.log": ("syslog", 2000, 0, 0),
    "loghub/Linux.log.gz": ("syslog", 25567, 0, 0),
    "web-access-logs/apache_logs.gz": ("access_log", 10000, 0, 0),
    "zeek-conn-logs/port-scans_horizontal_conn.log": ("zeek_conn", 41, 0, 8),
    "zeek-conn-logs/port-scans_vertical_conn.log": ("zeek_conn", 50, 0, 0),
    "zeek-conn-logs/test9-mixed_conn.log": ("zeek_conn", 576, 0, 0),
    "zeek-conn-logs/test10-mixed_conn.log": ("zeek_conn", 141, 0, 9),
    "zeek-conn-logs/test13-malicious-dhcpscan_conn.log": ("zeek_conn", 2, 0, 0),
    "zeek-conn-logs/test18-ctu-sme-11_conn.log.labeled": ("zeek_conn", 766, 0, 8),
    "suricata-eve/test6-malicious.suricata.json.gz": ("suricata_eve", 5000, 0, 0),
    "argus-flows/test11-portscan.binetflow": ("argus_binetflow", 66, 0, 1),
    "argus-flows/test3-mixed.binetflow": ("argus_binetflow", 89, 0, 1),
    "argus-flows/test4-malicious.binetflow": ("argus_binetflow", 394, 0, 1),
    # 300 rows: one is Argus' own management record (Proto "man"), which is not traffic -> 299 events
    "argus-flows/test5-mixed.binetflow": ("argus_binetflow", 299, 0, 2),
    "nsl-kdd/KDDTrain+_20Percent.txt.gz": ("nsl_kdd", 25192, 0, 0),
    "nsl-kdd/KDDTrain+.txt.gz": ("nsl_kdd", 125973, 0, 0),
    "unsw-nb15/UNSW_NB15_part-A.csv.gz": ("unsw_nb15", 41164, 0, 1),
}
# on MariaDB and PostgreSQL too; the rest (tens of thousands of rows) on SQLite only
ON_EVERY_ENGINE = [
    "loghub/OpenSSH_2k.log", "loghub/Linux_2k.log", "web-access-logs/apache_logs.gz",
    *(p for p in SUPPORTED if p.startswith(("zeek-conn-logs/", "argus-flows/"))),
    "suricata-eve/test6-malicious.suricata.json.gz",
]
SQLITE_ONLY = [p for p in SUPPORTED if p not in ON_EVERY_ENGINE]

# Files that are not logs NetWarden reads: the sniffer must refuse them rather than guess.
REFUSED = [
    "loghub/Apache_2k.log",  # an Apache *error* log, not an access log
    "csic-2010/normalTrafficTraining.txt.gz",  # raw HTTP requests
    "threat-intel/firehol_level1.netset", "threat-intel/dshield.netset", "threat-intel/ipsum.txt.gz",
    "threat-intel/feodo_badips.ipset", "threat-intel/spamhaus_drop.netset",  # blocklists, not events
    "loghub/OpenSSH_2k.log_structured.csv", "loghub/OpenSSH_2k.log_templates.csv",  # loghub's own parses
    "loghub/Linux_2k.log_structured.csv", "loghub/Linux_2k.log_templates.csv",
    "loghub/Apache_2k.log_structured.csv", "loghub/Apache_2k.log_templates.csv",
    "unsw-nb15/NUSW-NB15_features.csv",  # a description of the columns
    "zeek-conn-logs/test18-ctu-sme-11_labels.config",
]
DOCUMENTS = ("README.md", "PROVENANCE.md", "LICENSE")
# Packet captures are binary, not lines: no line parser may claim them (they are a different collector).
PCAP_SUFFIXES = (".pcap", ".pcapng")


def _count(db: Database, table) -> int:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def check_ingest(db: Database, datasets: Path, relative: str) -> None:
    fmt, n_events, n_quarantined, n_skipped = SUPPORTED[relative]
    path = datasets / relative
    result = Pipeline(db).ingest_file(path, "auto")
    assert result.format == fmt, f"{relative}: the sniffer chose {result.format}, not {fmt}"
    assert (result.events, result.quarantined_total, result.skipped) == (n_events, n_quarantined, n_skipped), \
        (relative, result.events, dict(result.quarantined), result.skipped)
    assert result.lines == n_events + n_quarantined + n_skipped
    assert _count(db, events) == n_events
    assert _count(db, quarantine) == n_quarantined
    with db.engine.connect() as conn:
        assert conn.execute(select(func.sum(rollups.c.events))).scalar_one() == n_events
        (src,) = source_store.all_sources(conn)
        assert (src["format"], src["events"], src["lines"], src["complete"]) == (fmt, n_events, result.lines, True)
        timeless = conn.execute(select(func.count()).select_from(events).where(events.c.timestamp.is_(None)))
        assert timeless.scalar_one() == 0
    # importing it again stores nothing
    again = Pipeline(db).ingest_file(path, "auto")
    assert (again.events, again.already_done) == (0, True)
    assert _count(db, events) == n_events


def test_every_dataset_file_is_classified(datasets: Path) -> None:
    """A new file in the datasets folder must be added to one of the lists above."""
    known = set(SUPPORTED) | set(REFUSED)
    unclassified = [str(p.relative_to(datasets)) for p in sorted(datasets.rglob("*")) if p.is_file()
                    and str(p.relative_to(datasets)) not in known
                    and not p.name.startswith(DOCUMENTS) and not p.name.endswith(PCAP_SUFFIXES)]
    assert unclassified == []
    assert all((datasets / p).is_file() for p in known)


@pytest.mark.engines
@pytest.mark.parametrize("relative", ON_EVERY_ENGINE)
def test_dataset_on_every_engine(db: Database, datasets: Path, relative: str) -> None:
    check_ingest(db, datasets, relative)


@pytest.mark.parametrize("relative", SQLITE_ONLY)
def test_large_dataset_on_sqlite(tmp_path: Path, datasets: Path, relative: str) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'netwarden.db'}")  # a file: large inputs use the writer process
    try:
        check_ingest(db, datasets, relative)
    finally:
        db.close()


def test_every_capture_is_recognised(datasets: Path) -> None:
    """Captures go through the packet reader (exact packet and flow counts: tests/collect/test_pcap.py)."""
    db = Database.open("sqlite:///:memory:")
    try:
        captures = [p for p in sorted(datasets.rglob("*")) if p.name.endswith(PCAP_SUFFIXES)]
        assert len(captures) == 21
        for path in captures:
            result = Pipeline(db).ingest_file(path, "auto")
            assert result.format in ("pcap", "pcapng") and result.events > 0, path.name
    finally:
        db.close()


def test_unsupported_files_are_refused(datasets: Path) -> None:
    db = Database.open("sqlite:///:memory:")
    try:
        pipeline = Pipeline(db)
        others = [p for p in sorted(datasets.rglob("*")) if p.is_file() and p.name.startswith(DOCUMENTS)]
        assert len(others) >= 10
        for path in [datasets / r for r in REFUSED] + others:
            with pytest.raises(UnknownFormat, match=str(path.name)):
                pipeline.ingest_file(path, "auto")
        assert _count(db, events) == 0 and _count(db, quarantine) == 0
        with db.engine.connect() as conn:
            assert source_store.all_sources(conn) == []
    finally:
        db.close()
