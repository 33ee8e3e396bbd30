"""Shared fixtures: where the real datasets are, and the three database engines."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def datasets_path() -> Path:
    """``../shared/datasets`` beside the repository, or ``$NETWARDEN_DATASETS``."""
    return Path(os.environ.get("NETWARDEN_DATASETS", REPO.parent / "shared" / "datasets"))


def datasets_required() -> bool:
    """CI sets ``NETWARDEN_REQUIRE_DATASETS=1`` (.ci/run): there a missing folder fails instead of skipping."""
    return os.environ.get("NETWARDEN_REQUIRE_DATASETS", "") not in ("", "0")


@pytest.fixture(scope="session")
def datasets() -> Path:
    path = datasets_path()
    if not path.is_dir():
        reason = (f"public datasets not found at {path}: place them at ../shared/datasets beside the "
                  "repository (each folder's PROVENANCE.md names its source) or set NETWARDEN_DATASETS")
        if datasets_required():
            pytest.fail(reason + " (NETWARDEN_REQUIRE_DATASETS is set: CI skips nothing)")
        pytest.skip(reason)
    return path


# -- the three database engines -----------------------------------------------------------------
# MariaDB and PostgreSQL are real servers on loopback (.ci/run starts them). Each pytest-xdist worker
# gets its own database, created on first use, so tests never see each other's rows.

MYSQL_SERVER = os.environ.get("NETWARDEN_TEST_MYSQL", "mysql://root@127.0.0.1:3306")
POSTGRES_SERVER = os.environ.get("NETWARDEN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
ENGINES = os.environ.get("NETWARDEN_TEST_ENGINES", "sqlite,mariadb,postgresql").split(",")


# one token per test run: two runs at once (two developers, a helper and CI) never share a database
RUN = (os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex)[:8]


def _database_name(worker: str) -> str:
    return f"netwarden_test_{RUN}_{worker}".replace("-", "_")


def _server_url(engine: str, tmp_path_factory: pytest.TempPathFactory, worker: str) -> str:
    from sqlalchemy import create_engine, text

    name = _database_name(worker)
    if engine == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'netwarden.db'}"
    if engine == "mariadb":
        admin = create_engine(MYSQL_SERVER.replace("mysql://", "mysql+pymysql://", 1) + "/")
        with admin.begin() as conn:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"))
        admin.dispose()
        return f"{MYSQL_SERVER}/{name}"
    if engine == "postgresql":
        admin = create_engine(POSTGRES_SERVER.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres",
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return f"{POSTGRES_SERVER}/{name}"
    raise ValueError(engine)


def _reset(url: str) -> None:
    """Drop every table so each test starts from an empty, freshly migrated schema."""
    from sqlalchemy import MetaData, create_engine

    from netwarden.store.database import normalise_url

    engine = create_engine(normalise_url(url))
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()


def _drop_database(engine: str, worker: str) -> None:
    from sqlalchemy import create_engine, text

    name = _database_name(worker)
    if engine == "mariadb":
        admin = create_engine(MYSQL_SERVER.replace("mysql://", "mysql+pymysql://", 1) + "/")
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    elif engine == "postgresql":
        admin = create_engine(POSTGRES_SERVER.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres",
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        return
    admin.dispose()


@pytest.fixture(scope="session")
def _engine_urls(tmp_path_factory: pytest.TempPathFactory, worker_id: str):  # type: ignore[no-untyped-def]
    urls = {engine: _server_url(engine, tmp_path_factory, worker_id) for engine in ENGINES}
    yield urls
    for engine in urls:
        try:
            _stop_forgotten_responders(urls[engine])
            _drop_database(engine, worker_id)
        except Exception:  # a leftover test database is harmless; a failing teardown is noise
            pass


def _stop_forgotten_responders(url: str) -> None:
    """A pipeline a test did not close leaves its block-expiry sweeper running against its database; stop
    those on a database about to be emptied for the next test (their queries would fail, loudly)."""
    from netwarden.respond.responder import RUNNING
    from netwarden.store.database import normalise_url

    target = normalise_url(url)
    for responder in list(RUNNING):
        if responder.db.engine.url.render_as_string(hide_password=False) == target:
            responder.close()


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, _engine_urls: dict[str, str]) -> str:
    """A database URL on an empty database, once per engine (SQLite, MariaDB, PostgreSQL)."""
    url = _engine_urls[request.param]
    _stop_forgotten_responders(url)
    _reset(url)
    return url


@pytest.fixture
def db(db_url: str):  # type: ignore[no-untyped-def]
    """An open, migrated :class:`~netwarden.store.database.Database` on each engine."""
    from netwarden.store.database import Database

    database = Database.open(db_url)
    yield database
    database.close()
