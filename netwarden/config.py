"""Settings: built-in defaults, then a TOML file, then ``NETWARDEN_*`` environment variables.

With nothing configured NetWarden runs embedded: a SQLite file ``netwarden.db`` in the working
directory. The file is the first of ``--config PATH``, ``$NETWARDEN_CONFIG``, ``./netwarden.toml``
and ``/etc/netwarden/netwarden.toml`` that exists. Every setting ``[section] key`` can be overridden
by the variable ``NETWARDEN_SECTION_KEY``, e.g. ``NETWARDEN_DATABASE_URL`` or
``NETWARDEN_RETENTION_KEEP_DAYS``. Example file::

    [database]
    url = "postgresql://netwarden@db.example.org/netwarden"

    [ingest]
    timezone = "Europe/Prague"   # for timestamps written without a zone (syslog, Argus)
    max_line_bytes = 65536

    [retention]
    keep_days = 90

    [detect.port_scan]           # each detector's settings; see `netwarden detectors`
    enabled = true
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from netwarden.bus.settings import BusSettings
from netwarden.enrich.assets import DEFAULT_HOME
from netwarden.enrich.intel import EXAMPLE_FEED
from netwarden.learn.settings import LearnSettings
from netwarden.notify.settings import NotifySettings
from netwarden.report.settings import ReportSettings
from netwarden.respond.settings import RespondSettings
from netwarden.settings_base import DurationText, Section, known_zone
from netwarden.web.settings import WebSettings
from pydantic import Field, ValidationError, field_validator

ENV_PREFIX = "NETWARDEN_"
SEARCH_PATHS = (Path("netwarden.toml"), Path("/etc/netwarden/netwarden.toml"))


class ConfigError(ValueError):
    """A setting is wrong; the message names the file or variable, the key, and what is expected."""


_Section = Section  # every [section] model derives from it (netwarden.settings_base)


class DatabaseSettings(_Section):
    url: str = "sqlite:///netwarden.db"


class IngestSettings(_Section):
    # lines per batch (and per transaction) when importing files; see Pipeline for the measurements
    batch_size: int = Field(20_000, ge=1, le=1_000_000)
    max_line_bytes: int = Field(65536, ge=256, le=64 << 20)
    timezone: str = "local"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


class NetworkSettings(_Section):
    # the site's own networks ("inside"); the default is the private and local ranges
    home: list[str] = Field(default_factory=lambda: list(DEFAULT_HOME))

    @field_validator("home")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not a network (e.g. 10.0.0.0/8)") from None
        return value


class IntelSettings(_Section):
    """Threat-intelligence feeds: files, or URLs downloaded every ``refresh`` into ``cache_dir`` (see
    netwarden.enrich.intel, netwarden.enrich.feed_fetch and `netwarden intel`)."""

    feeds: list[str] = Field(default_factory=lambda: [EXAMPLE_FEED])  # the shipped example lists only test addresses
    refresh: DurationText = "6h"  # how often URL feeds are downloaded again (when the network allows)
    cache_dir: str = "netwarden-feeds"  # where URL feeds are kept
    download_timeout: float = Field(60.0, gt=0, le=600)
    # entries with a lower score (IPsum: number of lists) are not loaded; 1 keeps all, weak ones weigh little
    min_score: float = 1
    flag_private: bool = False  # FireHOL level1 lists the bogons: private/multicast/reserved are never flagged
    reload_every: float = Field(5.0, ge=0)  # seconds between checks of the feed files for changes


    @field_validator("feeds")
    @classmethod
    def _feeds(cls, value: list[str]) -> list[str]:
        for feed in value:
            if not feed.strip():
                raise ValueError("a feed is a file path or an http(s):// URL, not empty")
            if "://" in feed and not feed.startswith(("http://", "https://")):
                raise ValueError(f"{feed!r}: a feed URL starts with http:// or https://")
        return value


class RetentionSettings(_Section):
    keep_days: float = Field(90, gt=0)


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    ingest: IngestSettings = IngestSettings()
    retention: RetentionSettings = RetentionSettings()
    network: NetworkSettings = NetworkSettings()
    intel: IntelSettings = IntelSettings()  # threat-intelligence feeds (netwarden.enrich.intel)
    learn: LearnSettings = LearnSettings()  # machine-learning models (netwarden.learn)
    respond: RespondSettings = RespondSettings()  # blocking (netwarden.respond)
    notify: NotifySettings = NotifySettings()  # e-mail and webhook notifications (netwarden.notify)
    web: WebSettings = WebSettings()  # the web application (netwarden.web)
    report: ReportSettings = ReportSettings()  # PDF reports and their schedules (netwarden.report)
    bus: BusSettings = BusSettings()  # scale-out on Redis Streams (netwarden.bus); empty url: one process
    # [detect.<detector>] tables; each detector validates its own (netwarden.detect.base.DetectorSettings)
    detect: dict[str, dict[str, Any]] = {}
    source: str = "defaults"  # where the settings came from, for messages

    def local_tz(self) -> tzinfo:
        return local_zone() if self.ingest.timezone == "local" else ZoneInfo(self.ingest.timezone)

    def site_tz(self) -> tzinfo:
        """The zone reports and their schedules use: [report] timezone, else the ingest one."""
        return self.local_tz() if self.report.timezone == "local" else ZoneInfo(self.report.timezone)


def local_zone() -> tzinfo:
    """This machine's zone, with its daylight-saving rules when they can be found."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            target = os.path.realpath("/etc/localtime")
            name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""
        except OSError:
            name = ""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return datetime.now().astimezone().tzinfo or timezone.utc


def load_settings(config_path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read settings; raises ConfigError with a precise message on any mistake."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    origin = "defaults"
    path = Path(config_path) if config_path else (Path(env[ENV_PREFIX + "CONFIG"])
                                                  if env.get(ENV_PREFIX + "CONFIG") else None)
    if path is None:
        path = next((p for p in SEARCH_PATHS if p.is_file()), None)
    elif not path.is_file():
        raise ConfigError(f"configuration file {path} does not exist")
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        origin = str(path)
    sections = {name: field.annotation for name, field in Settings.model_fields.items()
                if isinstance(field.annotation, type) and issubclass(field.annotation, _Section)}
    for section, model in sections.items():
        for key in model.model_fields:
            var = f"{ENV_PREFIX}{section}_{key}".upper()
            if var in env:
                data.setdefault(section, {})
                if not isinstance(data[section], dict):
                    raise ConfigError(f"{origin}: [{section}] must be a table")
                value: Any = env[var]
                if model.model_fields[key].annotation == list[str]:
                    value = [part.strip() for part in value.split(",") if part.strip()]
                data[section][key] = value
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{origin} (or NETWARDEN_* variables): {problems}") from None
    settings.source = origin
    return settings
