"""What every command gets (``@click.pass_obj``): the settings, the database and the pipeline, opened on
demand from ``--config`` and ``--db``; and the one way the CLI reads a point in time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

from netwarden.commands.shared.terminal import fail
from netwarden.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from netwarden.pipeline import Pipeline
    from sqlalchemy import Connection

    from netwarden.store.database import Database


R = TypeVar("R")


class Context:
    def __init__(self, config: str | None, db_url: str | None) -> None:
        self._config = config
        self._db_url = db_url
        self._settings: Settings | None = None

    def use_config(self, path: str) -> None:
        """``--config`` given after the command's name: it wins over the one before it."""
        self._config = path

    def use_database(self, url: str) -> None:
        """``--db`` given after the command's name: it wins over the one before it and the settings."""
        self._db_url = url

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                settings = load_settings(self._config)
            except ConfigError as exc:
                fail(str(exc), 2)
            if self._db_url:
                settings.database.url = self._db_url
            self._settings = settings
        return self._settings

    def pipeline(self, db: Database, *, detect: bool = True, **overrides: Any) -> Pipeline:
        """The configured pipeline (parse, detect, store) on ``db``; a wrong setting is a clean error."""
        from netwarden.detect.base import SettingsError
        from netwarden.pipeline import Pipeline

        try:
            return Pipeline.from_settings(db, self.settings, detect=detect, **overrides)
        except SettingsError as exc:
            fail(str(exc), 2)

    def live_pipeline(self, db: Database, **overrides: Any) -> Pipeline:
        """What a live source (``listen``, ``capture``) feeds: the configured pipeline, or with a ``[bus]`` one
        that parses here and publishes, for the workers to detect and store (``Pipeline.publishes``)."""
        if not self.settings.bus.url:
            return self.pipeline(db, **overrides)
        from netwarden.bus.produce import open_bus_pipeline
        from netwarden.bus.redis_bus import BusError

        try:
            return open_bus_pipeline(db, self.settings, **overrides)
        except BusError as exc:
            fail(str(exc), 2)

    def in_database(self, work: Callable[[Connection], R], *, write: bool = False) -> R:
        """What ``work`` returns, run on one connection of the configured database (in one transaction when
        it writes); the database is closed again however it ends."""
        db = self.database()
        try:
            with db.engine.begin() if write else db.engine.connect() as conn:
                return work(conn)
        finally:
            db.close()

    def database(self) -> Database:
        from netwarden.store.database import Database, DatabaseError

        try:
            return Database.open(self.settings.database.url)
        except DatabaseError as exc:
            fail(str(exc), 2)


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdwy])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_when(value: str, settings: Settings) -> datetime:
    """``30m``/``2h``/``7d``/``2w``/``1y`` ago (a year is 365 days), or an ISO date/time (local zone when it
    has none)."""
    m = _RELATIVE.match(value.strip())
    if m:
        try:
            return datetime.now(timezone.utc) - timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
        except OverflowError:
            raise click.BadParameter(f"{value!r} reaches back before the calendar starts") from None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: use a relative time like 30m, 2h, 7d, 2w, 1y, or an ISO time "
                                 "like 2026-11-21T08:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=settings.local_tz())
    return when.astimezone(timezone.utc)


class _Filter(Protocol):
    def clauses(self) -> Any: ...


F = TypeVar("F", bound=_Filter)


def checked(flt: F) -> F:
    """The filter of a list command, once its addresses and networks are known to parse (else a usage error)."""
    try:
        flt.clauses()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return flt
