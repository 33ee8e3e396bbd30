"""E-mail notifications against a real SMTP server (aiosmtpd): STARTTLS and implicit TLS with a login,
digests instead of floods, and log-derived text escaped in the HTML part."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from netwarden.notify.notifier import Notifier
from netwarden.notify.settings import NotifySettings, SmtpSettings
from netwarden.records import Alert, Factor, Severity

USER, PASSWORD = "netwarden", "correct horse"
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
# the implicit-TLS server allows AUTH "without STARTTLS" (its connection is TLS all along)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def alert(i: int, *, severity: Severity = Severity.HIGH, source: str = "203.0.113.7", target: str = "web01") -> Alert:
    return Alert(kind="web_attack", subkind="xss", severity=severity, confidence=0.9,
                 factors=[Factor("signature", 0.9, "payload <script>alert(1)</script> in /search")],
                 source=source, target=target, first_seen=T0, last_seen=T0, count=3, evidence={},
                 recommendation="block the source", detector="web_attack", id=i)


def smtp_settings(controller, cert, security: str, **notify) -> NotifySettings:  # type: ignore[no-untyped-def]
    smtp = SmtpSettings(host="127.0.0.1", port=controller.port, security=security, username=USER, password=PASSWORD,
                        sender="netwarden@example.org", recipients=["admin@example.org", "soc@example.org"],
                        ca_file=str(cert), timeout=5)
    return NotifySettings(smtp=smtp, **{"first_delay": 0.3, "digest_seconds": 60, "retry_delay": 0.05, **notify})


def test_an_attack_of_two_hundred_alerts_is_one_mail_with_escaped_html(smtp_starttls) -> None:  # type: ignore[no-untyped-def]
    controller, mailbox, cert = smtp_starttls
    notifier = Notifier(smtp_settings(controller, cert, "starttls"))
    try:
        started = time.perf_counter()
        for i in range(200):
            notifier.on_alert(alert(i, target="<img src=x onerror=alert(2)>\r\nBcc: victim@example.org"), True)
        assert time.perf_counter() - started < 0.5, "submitting must not wait for delivery"
        [mail] = mailbox.wait(1)
        time.sleep(0.5)
        assert len(mailbox.messages) == 1 and mailbox.logins == [USER]
        assert mail["Subject"] == "NetWarden: 200 notices (50 alerts, 150 more)"
        assert mail["To"] == "admin@example.org, soc@example.org" and mail["Bcc"] is None
        html = mail.get_body(("html",)).get_content()
        text = mail.get_body(("plain",)).get_content()
        assert "<script>" not in html and "<img" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x" in html
        assert "and 150 more" in text and text.count("* high web_attack/xss from 203.0.113.7") == 50
        # more alerts within the digest interval wait for the next digest, which flush sends at once
        for i in range(200, 210):
            notifier.on_alert(alert(i), True)
        time.sleep(0.6)
        assert len(mailbox.messages) == 1
        assert notifier.flush(10)
        assert len(mailbox.wait(2)) == 2 and mailbox.messages[1]["Subject"].startswith("NetWarden: 10 notices")
    finally:
        notifier.close()


def test_implicit_tls_and_one_alert_one_subject(smtp_ssl) -> None:  # type: ignore[no-untyped-def]
    controller, mailbox, cert = smtp_ssl
    notifier = Notifier(smtp_settings(controller, cert, "ssl", first_delay=0))
    try:
        notifier.on_alert(alert(1, severity=Severity.CRITICAL), True)
        [mail] = mailbox.wait(1)
        assert mail["Subject"] == "NetWarden: critical web_attack/xss from 203.0.113.7"
        assert "what to do: block the source" in mail.get_body(("plain",)).get_content()
    finally:
        notifier.close()


def test_wrong_password_is_retried_with_a_bound_then_dropped(smtp_starttls, caplog) -> None:  # type: ignore[no-untyped-def]
    controller, mailbox, cert = smtp_starttls
    settings = smtp_settings(controller, cert, "starttls", first_delay=0, retries=2)
    settings.smtp.password = "wrong"
    settings.smtp.timeout = 1  # smtplib falls back from PLAIN to LOGIN, which aiosmtpd answers slowly
    notifier = Notifier(settings)
    try:
        notifier.on_alert(alert(1), True)
        assert notifier.flush(20)
        assert notifier.stats.failures == 3 and notifier.stats.dropped == 1 and notifier.stats.messages == 0
        assert mailbox.messages == []
        assert any("given up after 3 attempts" in m for m in caplog.messages)
    finally:
        notifier.close()


def test_untrusted_certificate_is_refused(smtp_starttls) -> None:  # type: ignore[no-untyped-def]
    controller, mailbox, cert = smtp_starttls
    settings = smtp_settings(controller, cert, "starttls", first_delay=0, retries=0)
    settings.smtp.ca_file = ""  # the system's CAs do not know the test certificate
    notifier = Notifier(settings)
    try:
        notifier.on_alert(alert(1), True)
        assert notifier.flush(10)
        assert notifier.stats.dropped == 1 and mailbox.messages == []
    finally:
        notifier.close()


def test_header_injection_from_a_log_cannot_add_recipients(smtp_starttls) -> None:  # type: ignore[no-untyped-def]
    from netwarden.notify.notice import Notice

    controller, mailbox, cert = smtp_starttls
    notifier = Notifier(smtp_settings(controller, cert, "starttls", first_delay=0))
    try:
        notifier.submit(Notice("alert", Severity.HIGH, "scan from x\r\nBcc: victim@example.org\r\n\r\nbody",
                               {"why": "a\r\nb"}))
        [mail] = mailbox.wait(1)
        assert mail["Bcc"] is None and "\n" not in mail["Subject"]
        assert mail["Subject"] == "NetWarden: scan from x Bcc: victim@example.org body"
    finally:
        notifier.close()
