"""Samples of the real datasets for the learn tests (session-wide: parsed once), and a registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.learn import data
from netwarden.learn.lab import split_events
from netwarden.records import Event

KDD_ROWS = 8_000


@pytest.fixture(scope="session")
def kdd_file(datasets: Path) -> Path:
    return datasets / "nsl-kdd" / "KDDTrain+_20Percent.txt.gz"


@pytest.fixture(scope="session")
def kdd_events(kdd_file: Path) -> list[Event]:
    """8,000 NSL-KDD connection records (normal, DoS, Probe, R2L, a few U2R), through the real parser."""
    return data.load_file(kdd_file, limit=KDD_ROWS).events


@pytest.fixture(scope="session")
def kdd_split(kdd_events: list[Event]) -> tuple[list[Event], list[Event]]:
    """A stratified 70/30 split, fixed seed."""
    return split_events(kdd_events, "binary", 0.3, 42)


@pytest.fixture(scope="session")
def unsw_events(datasets: Path) -> list[Event]:
    """Every 7th row of the UNSW-NB15 partition half (the file is grouped by category: a stride mixes them)."""
    return data.load_file(datasets / "unsw-nb15" / "UNSW_NB15_part-A.csv.gz").events[::7]
