"""What the CLI prints, as a newcomer meets it: time units, options in every place, whole categories, plain
tables without trailing spaces, singular and plural, honest status, errors first, refusals summarised."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.commands.shared.context import parse_when
from netwarden.config import Settings

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
BOXES = set("─│┃━┏┓┗┛┡┩╇╈┼┌┐└┘")


def invoke(*args: str) -> click.testing.Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def netwarden(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess, standard error merged into standard output as in a pipe."""
    return subprocess.run([sys.executable, "-c", "from netwarden.cli import main; main()", *args], cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.fixture
def examples_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'nw.db'}"
    r = invoke("ingest", "--db", url, *(str(EXAMPLES / n) for n in ("auth.log", "access.log", "firewall.log")))
    assert r.exit_code == 0, r.output
    return url


def test_since_takes_weeks_and_years() -> None:
    now = datetime.now(timezone.utc)
    settings = Settings()
    assert abs(now - timedelta(weeks=2) - parse_when("2w", settings)) < timedelta(minutes=1)
    assert abs(now - timedelta(days=3650) - parse_when("10y", settings)) < timedelta(minutes=1)
    with pytest.raises(click.BadParameter, match="2w, 1y"):
        parse_when("10 decades", settings)


def test_every_command_takes_db_and_config_after_its_name(examples_db: str) -> None:
    def leaves(group: click.Group, path: str = ""):  # type: ignore[no-untyped-def]
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from leaves(command, f"{path}{name} ")
            else:
                yield f"{path}{name}", command

    for name, command in leaves(cli):
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        assert {"--db", "--config"} <= options, name
    everything = invoke("events", "--db", examples_db, "--since", "10y", "-n", "1000")
    assert everything.exit_code == 0 and everything.output.count("\n") > 200, everything.output
    assert "no matching events" in invoke("events", "--db", examples_db, "--since", "1w").output
    for args in (["alerts"], ["status"], ["quarantine"], ["incidents"], ["model", "list"]):
        r = invoke(*args, "--db", examples_db)
        assert r.exit_code == 0, (args, r.output)
    assert "brute_force" in invoke("alerts", "--db", examples_db).output
    assert "nw.db" in invoke("status", "--db", examples_db).output


def test_detectors_print_their_real_defaults() -> None:
    r = invoke("detectors")
    assert r.exit_code == 0 and "PydanticUndefined" not in r.output
    assert "feeds = [" in r.output and "dns_allow = [" in r.output


def test_auth_events_show_the_message_and_a_source(examples_db: str) -> None:
    r = invoke("events", "--db", examples_db, "--text", "invalid user", "-n", "1000")
    rows = r.output.splitlines()[1:]
    assert rows and all("Invalid user" in row or "invalid user" in row for row in rows), r.output
    sessions = invoke("events", "--db", examples_db, "--text", "session opened", "-n", "10").output.splitlines()[1:]
    assert sessions and all(" on gw01 " in row for row in sessions), sessions  # no address: the host that logged


def test_tables_are_plain_without_trailing_spaces(examples_db: str) -> None:
    for args in (["events", "-n", "300"], ["alerts"], ["status"], ["detectors"], ["intel", "list"],
                 ["model", "algorithms"], ["incidents"]):
        r = invoke(*args, "--db", examples_db)
        assert r.exit_code == 0, (args, r.output)
        lines = r.output.splitlines()
        assert lines and [line for line in lines if line != line.rstrip()] == [], args
        assert not BOXES & set(r.output), args


def test_attack_counts_read_as_counts(examples_db: str) -> None:
    shown = invoke("alerts", "--db", examples_db, "--json", "-n", "100").output
    assert "with directory traversal / local file inclusion (1), sensitive file probe (3)" in shown
    assert "3 sensitive file probe" not in shown


def test_counts_are_singular_or_plural(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    one = tmp_path / "one.log"
    one.write_text('192.0.2.7 - - [21/Nov/2026:09:00:04 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n')
    assert invoke("ingest", "--db", url, str(one)).exit_code == 0
    status = invoke("status", "--db", url).output
    assert "1 line, 1 event," in status
    intel = invoke("intel", "list").output
    assert "1 feed," in intel and "1 feeds" not in intel
    # one user name that does not exist, one alert in the incident
    now = datetime.now() - timedelta(minutes=3)
    lines = [f"{(now + timedelta(seconds=i)).strftime('%b %d %H:%M:%S')} gw01 sshd[{900 + i}]: Failed password for "
             f"{'invalid user ghost' if i == 0 else 'root'} from 192.0.2.77 port {40000 + i} ssh2"
             for i in range(20)]
    auth = tmp_path / "auth.log"
    auth.write_text("\n".join(lines) + "\n")
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    assert invoke("ingest", "--db", url, str(auth)).exit_code == 0
    shown = invoke("alerts", "--db", url, "--json").output
    assert "1 user name that does not exist" in shown, shown
    incidents = invoke("incidents", "--db", url).output
    assert " 1 alert " in incidents and "1 alerts" not in incidents


def test_status_names_the_file_read_and_counts_packets(tmp_path: Path, datasets: Path) -> None:
    url = f"sqlite:///{tmp_path / 'st.db'}"
    first = tmp_path / "access.log"
    shutil.copy(EXAMPLES / "access.log", first)
    shutil.copy(first, tmp_path / "renamed-copy.log")
    assert invoke("ingest", "--db", url, str(first)).exit_code == 0
    again = invoke("ingest", "--db", url, str(tmp_path / "renamed-copy.log"))
    assert "already ingested" in again.output
    capture = datasets / "pcaps" / "esnet-curated-pcaps" / "nmap_80_vanilla.pcap"
    assert invoke("ingest", "--db", url, str(capture)).exit_code == 0
    inputs = invoke("status", "--db", url).output.split("inputs", 1)[1]
    assert str(first) in inputs and "renamed-copy" not in inputs
    [pcap_line] = [line for line in inputs.splitlines() if "nmap_80_vanilla" in line]
    assert " packets, " in pcap_line and " lines" not in pcap_line


def test_an_ingest_error_comes_before_the_summaries(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "access.log", tmp_path / "a.log")
    r = netwarden("--db", "sqlite:///e.db", "ingest", "missing.log", "a.log", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.index("error: missing.log") < r.stdout.index("a.log  [access_log]") < r.stdout.index("detection")
    (tmp_path / "garbage.bin").write_bytes(b"\x00\x01\x02 not a log\n")
    r = netwarden("--db", "sqlite:///e.db", "ingest", "garbage.bin", cwd=tmp_path)
    assert r.returncode == 1 and "error: garbage.bin" in r.stdout and "detection" not in r.stdout, r.stdout


def test_never_block_refusals_are_one_summary_line(tmp_path: Path) -> None:
    """40 home-network sources brute-forcing SSH: 40 refused automatic blocks, told once, not 40 times."""
    start = datetime.now() - timedelta(minutes=5)
    lines = [f"{(start + timedelta(seconds=i * 2 + n / 100)).strftime('%b %d %H:%M:%S')} gw01 sshd[{1000 + n}]: "
             f"Failed password for invalid user admin{i} from 10.1.0.{n} port {40000 + i} ssh2"
             for i in range(30) for n in range(1, 41)]
    (tmp_path / "auth.log").write_text("\n".join(lines) + "\n")
    r = netwarden("--db", "sqlite:///nb.db", "ingest", "auth.log", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert "not blocking" not in r.stdout
    [summary] = [line for line in r.stdout.splitlines() if "blocks refused" in line]
    assert "40" in summary and "never-block list 40 (40 networks)" in summary
    refused = netwarden("--db", "sqlite:///nb.db", "block", "list", "--refused", cwd=tmp_path)
    assert refused.stdout.count("10.1.0.") >= 40  # each refusal is still recorded
