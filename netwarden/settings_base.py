"""The base of every settings section; kept apart from netwarden.config so that each package can
define its own section (netwarden.respond.settings, ...) without importing the whole configuration."""

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict

from netwarden.durations import parse_duration


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


def _duration_text(value: str) -> str:
    parse_duration(value)  # a ValueError that says what to write
    return value


#: a duration setting kept as people wrote it (``90s``, ``10m``, ``6h``, ``30d``), checked when it is set
DurationText = Annotated[str, AfterValidator(_duration_text)]
