"""Shared fixtures: where the real datasets are, and the three database engines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def datasets_path() -> Path:
    """``../shared/datasets`` beside the repository, or ``$NETWARDEN_DATASETS``."""
    return Path(os.environ.get("NETWARDEN_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def datasets() -> Path:
    path = datasets_path()
    if not path.is_dir():
        pytest.fail(f"datasets not found at {path}; set NETWARDEN_DATASETS")
    return path
