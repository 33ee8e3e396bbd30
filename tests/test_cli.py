"""The ``netwarden`` command as an administrator uses it."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.parse import parsers

ACCESS = (
    '203.0.113.9 - - [21/Nov/2026:09:00:03 +0000] "GET /index.php?id=1%27%20AND%201=1-- HTTP/1.1" 500 0 "-" '
    '"sqlmap/1.7.2#stable (https://sqlmap.org)"\n'
    '192.0.2.7 - - [21/Nov/2026:09:00:04 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'
    'this is not an access log line\n'
    '999.1.1.1 - - [21/Nov/2026:09:00:05 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'
    '2001:db8::7 - - [21/Nov/2026:09:00:06 +0000] "GET /login HTTP/1.1" 401 12 "-" "curl/8.5.0"\n'
)


def run(*args: str, db: str, input: str | None = None):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["--db", db, *args], input=input, catch_exceptions=False)
    return result


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nw.db'}"


def test_ingest_prints_summary_and_never_stores_twice(tmp_path: Path, sqlite_url: str) -> None:
    log = tmp_path / "access.log"
    log.write_text(ACCESS)
    first = run("ingest", str(log), db=sqlite_url)
    assert first.exit_code == 0, first.output
    assert "[access_log]" in first.output
    assert "lines read" in first.output and " 5\n" in first.output
    assert "events stored" in first.output and " 3\n" in first.output
    assert "no_match" in first.output and "bad_address" in first.output
    assert "events/s" in first.output
    second = run("ingest", str(log), db=sqlite_url)
    assert second.exit_code == 0
    assert "already ingested" in second.output
    gz = tmp_path / "access.log.1.gz"
    gz.write_bytes(gzip.compress(log.read_bytes()))
    third = run("ingest", str(gz), db=sqlite_url)
    assert "already ingested" in third.output  # a rotated, compressed copy is the same content
    listed = run("events", "--json", "--limit", "100", db=sqlite_url)
    assert len(listed.output.splitlines()) == 3


def test_unknown_format_and_unreadable_file_are_one_line_errors(tmp_path: Path, sqlite_url: str) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(4096))
    good = tmp_path / "access.log"
    good.write_text(ACCESS)
    result = CliRunner().invoke(cli, ["--db", sqlite_url, "ingest", str(junk), str(tmp_path / "missing.log"),
                                      str(good)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("netwarden: error:")]
    assert len(errors) == 2
    assert "junk.bin" in errors[0] and "--format" in errors[0]
    assert "missing.log" in errors[1] and "No such file" in errors[1]
    assert "events stored" in result.output  # the good file was still imported
    bad_format = CliRunner().invoke(cli, ["--db", sqlite_url, "ingest", "--format", "nope", str(good)])
    assert bad_format.exit_code == 2 and "unknown format 'nope'" in bad_format.output


def test_events_filters(tmp_path: Path, sqlite_url: str) -> None:
    log = tmp_path / "access.log"
    log.write_text(ACCESS)
    run("ingest", str(log), db=sqlite_url)

    def ips(*args: str) -> list[str]:
        out = run("events", "--json", *args, db=sqlite_url)
        assert out.exit_code == 0, out.output
        return [json.loads(line).get("src_ip") for line in out.output.splitlines()]

    assert ips("--src", "203.0.113.0/24") == ["203.0.113.9"]
    assert ips("--src", "2001:db8::/32") == ["2001:db8::7"]
    assert ips("--status", "401") == ["2001:db8::7"]
    assert ips("--text", "sqlmap") == ["203.0.113.9"]
    assert ips("--text", "' OR 1=1 --") == []
    assert ips("--since", "2026-11-21T09:00:04Z", "--until", "2026-11-21T09:00:06Z") == ["192.0.2.7"]
    assert ips("--oldest-first") == ["203.0.113.9", "192.0.2.7", "2001:db8::7"]
    bad = CliRunner().invoke(cli, ["--db", sqlite_url, "events", "--src", "not-an-address"])
    assert bad.exit_code == 2 and "not an IP address or network" in bad.output
    bad_time = CliRunner().invoke(cli, ["--db", sqlite_url, "events", "--since", "yesterday-ish"])
    assert bad_time.exit_code == 2 and "relative time" in bad_time.output


def test_json_output_reingests_as_netwarden_format(tmp_path: Path, sqlite_url: str) -> None:
    log = tmp_path / "access.log"
    log.write_text(ACCESS)
    run("ingest", str(log), db=sqlite_url)
    exported = run("events", "--json", "--oldest-first", db=sqlite_url).output
    other = f"sqlite:///{tmp_path / 'other.db'}"
    result = run("ingest", "--format", "netwarden", "-", db=other, input=exported)
    assert result.exit_code == 0, result.output
    assert run("events", "--json", "--oldest-first", db=other).output == exported


def test_terminal_output_escapes_control_characters_and_markup(tmp_path: Path, sqlite_url: str) -> None:
    log = tmp_path / "evil.log"
    log.write_text('192.0.2.66 - - [21/Nov/2026:09:00:03 +0000] "GET /\x1b[2J[blink]x[/] HTTP/1.1" 200 1 "-" '
                   '"\x1b]0;pwned\x07<script>[bold]alert(1)</script>"\n')
    run("ingest", "--format", "access_log", str(log), db=sqlite_url)
    table = run("events", db=sqlite_url).output
    assert "\x1b" not in table and "\x07" not in table
    assert "/\\x1b[2J[blink]x[/]" in table  # shown literally, not interpreted as markup
    assert "\\x1b]0;pwned\\x07<script>[bold]alert(1)</script>" in table
    quarantined = tmp_path / "q.log"
    quarantined.write_text("\x1b[31mnot a line\n")
    run("ingest", "--format", "access_log", str(quarantined), db=sqlite_url)
    shown = run("quarantine", db=sqlite_url).output
    assert "\x1b" not in shown and "\\x1b[31mnot a line" in shown


def test_json_output_escapes_terminal_controls_and_stays_reingestable(tmp_path: Path, sqlite_url: str) -> None:
    hostile = "\x7f\x9b2J\u202egnp.exe\u2028\x1b[31m"  # DEL, CSI (8-bit), right-to-left override, line separator
    log = tmp_path / "evil.log"
    log.write_text(f'192.0.2.66 - - [21/Nov/2026:09:00:03 +0000] "GET /{hostile} HTTP/1.1" 200 1 "-" "{hostile}"\n',
                   encoding="utf-8")
    run("ingest", "--format", "access_log", str(log), db=sqlite_url)
    exported = run("events", "--json", db=sqlite_url).output
    for char in "\x7f\x9b\u202e\u2028\x1b":
        assert char not in exported
    assert "\\u007f\\u009b2J\\u202egnp.exe" in exported
    assert json.loads(exported)["user_agent"] == hostile  # the JSON still holds the real text
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert run("ingest", "--format", "netwarden", "-", db=other, input=exported).exit_code == 0
    assert run("events", "--json", db=other).output == exported


def test_formats_lists_every_parser_with_an_example() -> None:
    result = CliRunner().invoke(cli, ["formats"])
    assert result.exit_code == 0
    for name, cls in parsers().items():
        assert name in result.output
        assert cls.example.splitlines()[0][:40] in result.output
    assert "sshd" in result.output and "netfilter" in result.output and "mikrotik" in result.output


def test_retention_keeps_recent_events(tmp_path: Path, sqlite_url: str) -> None:
    from datetime import datetime, timedelta, timezone

    recent = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%d/%b/%Y:%H:%M:%S +0000")
    log = tmp_path / "a.log"
    log.write_text(ACCESS.replace("/2026:", "/2025:") + f'192.0.2.8 - - [{recent}] "GET /new HTTP/1.1" 200 5 "-" "Mozilla/5.0"\n')
    run("ingest", str(log), db=sqlite_url)
    result = run("retention", "--keep-days", "7", db=sqlite_url)
    assert result.exit_code == 0 and "deleted 3 events" in result.output
    left = [json.loads(line)["url"] for line in run("events", "--json", db=sqlite_url).output.splitlines()]
    assert left == ["/new"]
    status = run("status", db=sqlite_url).output
    from netwarden.store.database import Database

    newest = Database.newest_version()
    assert "events       1" in status and f"schema       {newest} (newest {newest})" in status


def test_settings_file_and_environment(tmp_path: Path) -> None:
    db_file = tmp_path / "from-config.db"
    config = tmp_path / "netwarden.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{db_file}"\n[ingest]\ntimezone = "UTC"\n')
    log = tmp_path / "a.log"
    log.write_text(ACCESS)
    result = CliRunner().invoke(cli, ["--config", str(config), "ingest", str(log)])
    assert result.exit_code == 0, result.output
    assert db_file.exists()
    typo = tmp_path / "typo.toml"
    typo.write_text("[ingest]\nmax_line_byte = 10\n")
    result = CliRunner().invoke(cli, ["--config", str(typo), "ingest", str(log)])
    assert result.exit_code == 2
    assert "ingest.max_line_byte" in result.output and "typo.toml" in result.output


def test_installed_command_runs_on_embedded_defaults(tmp_path: Path) -> None:
    """The real entry point, in a fresh directory with no settings: SQLite file in the working directory."""
    exe = shutil.which("netwarden", path=str(Path(sys.executable).parent))
    assert exe, "the netwarden command is not installed next to this Python"
    examples = Path(__file__).resolve().parents[1] / "examples"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETWARDEN_")}
    done = subprocess.run([exe, "ingest", *sorted(map(str, examples.glob("*.log")))], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "netwarden.db").exists()
    assert "quarantined                  0" in done.stdout
    listed = subprocess.run([exe, "events", "--kind", "auth", "--text", "Failed password", "--json", "-n", "1000"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0
    assert all(json.loads(line)["src_ip"] == "45.155.205.99" for line in listed.stdout.splitlines())
    assert len(listed.stdout.splitlines()) == 40


def test_stdin_with_invalid_utf8_and_a_long_line(tmp_path: Path, sqlite_url: str) -> None:
    """Standard input is read as bytes, like a file: bad bytes escaped, max_line_bytes honoured, and the
    detectors' state saved at the end."""
    from sqlalchemy import select

    from netwarden.store.database import Database
    from netwarden.store.schema import detector_state, events, quarantine

    lines = [f"Dec  4 10:00:0{i} gw sshd[7]: Failed password for invalid user u\xff{i} from 203.0.113.9 "
             f"port 4000{i} ssh2".encode("latin-1") for i in range(6)]
    lines.insert(3, b"Dec  4 10:00:09 gw sshd[7]: " + b"x" * 5000)
    result = CliRunner(env={"NETWARDEN_INGEST_MAX_LINE_BYTES": "2000"}).invoke(
        cli, ["--db", sqlite_url, "ingest", "--format", "syslog", "-"], input=b"\n".join(lines) + b"\n")
    assert result.exit_code == 0, result.output
    assert result.exception is None and "invalid UTF-8" in result.output
    db = Database.open(sqlite_url)
    with db.engine.connect() as conn:
        users = sorted(r.user for r in conn.execute(select(events.c.user)))
        reasons = [r.reason for r in conn.execute(select(quarantine.c.reason))]
        saved = {r.name for r in conn.execute(select(detector_state.c.name))}
    db.close()
    assert users == [f"u\\xff{i}" for i in range(6)]
    assert reasons == ["line_too_long"]
    assert "brute_force" in saved
