"""The base of every settings section; kept apart from netwarden.config so that each package can
define its own section (netwarden.respond.settings, ...) without importing the whole configuration."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def known_zone(value: str) -> str:
    """A time-zone setting: an IANA name, or "local"; else a ValueError that says what to write."""
    if value != "local":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Prague, "
                             "UTC, or 'local')") from None
    return value
