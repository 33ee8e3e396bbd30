"""``netwarden ingest`` without a progress bar (scripts, services, benchmarks) does not import rich's progress
module (~60 ms of start-up); with one, the bar still works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from netwarden.cli import cli

REPO = Path(__file__).resolve().parents[1]
LINES = "".join(f"Dec 10 06:55:{s:02d} LabSZ sshd[24200]: Invalid user admin from 203.0.113.7\n" for s in range(20))


def test_ingest_without_a_bar_imports_no_progress_module(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(LINES)
    code = (f"import sys; sys.argv = ['netwarden', '--db', 'sqlite:///{tmp_path / 'n.db'}', 'ingest', "
            f"'--no-progress', '-f', 'syslog', {str(log)!r}]\nfrom netwarden.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print('rich.progress' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert "events stored" in r.stdout and " 20\n" in r.stdout
    assert r.stdout.splitlines()[-1] == "False"


def test_ingest_with_a_bar_still_ingests(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(LINES)
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'n.db'}", "ingest", "--progress", "-f",
                                      "syslog", str(log)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "events stored" in result.output and " 20\n" in result.output
