"""The ``[report]`` settings section.

Example::

    [report]
    organisation = "Town Hall IT"                  # printed on every report
    timezone = "Europe/Prague"                     # the site's zone: periods, times and schedules
    templates_dir = "/etc/netwarden/report-templates"   # your edited copies (`netwarden report template copy`)
"""

from __future__ import annotations

from pydantic import Field, field_validator

from netwarden.settings_base import Section, known_zone


class ReportSettings(Section):
    organisation: str = Field("", max_length=200)
    timezone: str = "local"  # "local": the ingest timezone setting, else this machine's zone
    templates_dir: str = ""  # a template here replaces the built-in one of the same file name
    check_seconds: float = Field(30.0, gt=0, le=3600)  # how often `serve` looks for due schedules

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)
