"""The ``[notify]`` settings section."""

from netwarden.settings_base import Section


class NotifySettings(Section):
    """Notifications: SMTP and webhooks, severity floor, digests."""
