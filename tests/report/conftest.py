"""The notification tests' real SMTP server (aiosmtpd with STARTTLS and a login), for e-mailed reports."""

from tests.notify.conftest import certificate, smtp_starttls  # noqa: F401 - fixtures
