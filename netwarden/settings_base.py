"""The base of every settings section; kept apart from netwarden.config so that each package can
define its own section (netwarden.respond.settings, ...) without importing the whole configuration."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
