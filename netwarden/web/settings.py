"""The ``[web]`` settings section."""

from netwarden.settings_base import Section


class WebSettings(Section):
    """The web application: listen address, sessions, TLS."""
