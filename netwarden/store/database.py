"""Opening the store: one URL picks SQLite (the default), MariaDB/MySQL or PostgreSQL.

>>> db = Database.open("sqlite:///:memory:")   # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).with_name("migrations")

# CPython's sqlite3 looks for an adapter for every NULL it binds and fails slowly (an AttributeError
# per value); events have many empty fields, so an explicit identity adapter halves insert time. The adapter
# is an empty dict's get, which gives None back for None, in C: a Python lambda costs a frame per NULL (200,000
# rows of 17 NULLs: 2.13/2.20 -> 1.92/1.97 CPU-s for executemany, alternated, under load).
sqlite3.register_adapter(type(None), {}.get)


class DatabaseError(RuntimeError):
    """The store cannot be opened or used; the message says what to do."""


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def normalise_url(url: str) -> str:
    """Pick the drivers NetWarden ships with, and utf8mb4 for MySQL (logs carry 4-byte characters)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"invalid database URL {url!r}; expected e.g. sqlite:///netwarden.db, "
                            "mysql://user:pass@host/db or postgresql://user@host/db") from None
    backend = parsed.get_backend_name()
    if backend in ("mysql", "mariadb"):
        if parsed.drivername in ("mysql", "mariadb"):
            parsed = parsed.set(drivername=f"{backend}+pymysql")
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    elif backend == "postgresql":
        # an explicit driver (postgresql+psycopg://, as the writer process receives the URL) is kept;
        # it used to fall through to "unsupported database" below
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite",):
        raise DatabaseError(f"unsupported database {backend!r}: use sqlite, mysql/mariadb or postgresql")
    return parsed.render_as_string(hide_password=False)


class Database:
    """An engine on a migrated schema. Create with :meth:`open`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name  # sqlite, mysql, mariadb, postgresql

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        url = normalise_url(url)
        parsed = make_url(url)
        kwargs: dict = {"future": True}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:"):
                kwargs["poolclass"] = StaticPool  # one shared in-memory database
            else:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        engine = create_engine(url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        db = cls(engine)
        if migrate:
            db.migrate()
        return db

    def migrate(self) -> None:
        """Bring the schema to the newest version (creating it on an empty database)."""
        try:
            with self.engine.begin() as conn:
                cfg = _alembic_config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise DatabaseError(f"cannot reach the database at {self.url_for_display}: {exc.orig}") from None

    def schema_version(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def newest_version() -> str | None:
        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    def ping(self) -> str | None:
        """Why the database does not answer a trivial query now, or None when it does (``/readyz``)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # said, not raised: the caller reports "not ready"
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        return None

    @property
    def url_for_display(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    # 16 KiB pages: events rows are ~0.5 KiB and every insert touches four indexes; bulk inserts are
    # about a quarter faster than with 4 KiB (only takes effect when the file is created)
    cursor.execute("PRAGMA page_size=16384")
    # WAL lets the web app read while ingest writes; NORMAL is durable across application crashes
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # index pages are updated at random places; a small cache turns every insert into disk reads
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB at most, allocated as used
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()
