"""The ``[learn]`` settings section."""

from netwarden.settings_base import Section


class LearnSettings(Section):
    """Machine-learning models: where artefacts live, defaults for training."""
