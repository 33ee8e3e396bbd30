"""The ``[learn]`` settings section."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from sqlalchemy.engine import make_url

from netwarden.settings_base import Section

DEFAULT_DIR_NAME = "netwarden-models"


class LearnSettings(Section):
    """Machine-learning models: where artefacts live, defaults for training."""

    #: where model artefacts are written; empty: ``netwarden-models`` next to the SQLite file
    #: (or in the working directory for MariaDB/PostgreSQL)
    models_dir: str = ""
    seed: int = 42  # every split and estimator is seeded: the same data and parameters give the same model
    test_size: float = Field(0.3, gt=0, lt=1)  # held-out share when no test file is given
    fpr: float = Field(0.01, gt=0, lt=0.5)  # unsupervised models: target false-positive rate
    explain_top: int = Field(5, ge=1, le=20)  # features shown per prediction
    reload_every: float = Field(30.0, gt=0)  # seconds between the ml detector's checks for (de)activations


def models_dir(settings: LearnSettings, database_url: str) -> Path:
    """The artefact directory: as configured, else beside the SQLite file, else ./netwarden-models."""
    if settings.models_dir:
        return Path(settings.models_dir).expanduser()
    try:
        url = make_url(database_url)
    except Exception:  # noqa: BLE001 - a bad URL is the database's error to report, not ours
        return Path(DEFAULT_DIR_NAME)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().resolve().parent / DEFAULT_DIR_NAME
    return Path(DEFAULT_DIR_NAME)
