"""The ``[respond]`` settings section."""

from netwarden.settings_base import Section


class RespondSettings(Section):
    """Blocking: mode, thresholds, never-block list, backends, expiry."""
