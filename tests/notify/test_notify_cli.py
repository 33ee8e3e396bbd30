"""``netwarden notify test`` against the real receivers."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from netwarden.cli import cli


def test_notify_test_reports_each_channel(receiver, smtp_starttls, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    controller, mailbox, cert = smtp_starttls
    config = tmp_path / "netwarden.toml"
    config.write_text(
        f'[notify.smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nusername = "netwarden"\n'
        f'password = "correct horse"\nrecipients = ["admin@example.org"]\nca_file = "{cert}"\n'
        f'[[notify.webhooks]]\nurl = "{receiver.url}/ok"\nstyle = "teams"\n'
        f'[[notify.webhooks]]\nurl = "http://127.0.0.1:1/closed"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", f"sqlite:///{tmp_path / 'nw.db'}",
                                      "notify", "test"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"smtp 127.0.0.1:{controller.port}: sent"
    assert lines[1] == f"webhook {receiver.url}/ok: sent"
    assert lines[2].startswith("webhook http://127.0.0.1:1/closed: FAILED: ")
    assert mailbox.wait(1)[0]["Subject"] == "NetWarden: test message from NetWarden"
    assert receiver.requests[0]["json"]["@type"] == "MessageCard"


def test_notify_test_without_channels(tmp_path: Path) -> None:
    config = tmp_path / "netwarden.toml"
    config.write_text("")
    result = CliRunner().invoke(cli, ["--config", str(config), "notify", "test"])
    assert result.exit_code == 1 and "no channels configured" in result.output
