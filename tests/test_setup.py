"""The README's two commands in a clone anywhere: the datasets fixture, ``scripts/setup`` and ``./start``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASET_TEST = "tests/detect/test_ids.py::test_suricata_alerts_are_merged_per_source"


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "NETWARDEN_REQUIRE_DATASETS"}
    environment.update(NETWARDEN_DATASETS=str(tmp_path / "missing"), PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-rs", "-q",
                           DATASET_TEST], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)


def test_without_the_datasets_their_tests_skip_and_say_how_to_get_them(tmp_path: Path) -> None:
    r = _pytest(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 skipped" in r.stdout and "error" not in r.stdout.lower()
    skip = next(line for line in r.stdout.splitlines() if line.startswith("SKIPPED"))
    assert str(tmp_path / "missing") in skip and "NETWARDEN_DATASETS" in skip and "../shared/datasets" in skip


def test_ci_requires_the_datasets(tmp_path: Path) -> None:
    r = _pytest(tmp_path, NETWARDEN_REQUIRE_DATASETS="1")
    assert r.returncode != 0 and "1 error" in r.stdout, r.stdout + r.stderr
    assert "NETWARDEN_REQUIRE_DATASETS" in r.stdout
    assert "NETWARDEN_REQUIRE_DATASETS=1" in (REPO / ".ci" / "run").read_text()


# -- scripts/setup and ./start, in a copy of the repository whose pip, npm and netwarden only log their calls
# (a real install takes minutes; what is tested here is which steps run, and where)

FAKE_PYTHON = """#!/usr/bin/env bash
echo "pip $*" >>"$SETUP_LOG"
case "$*" in *compileall*) exit "${COMPILE_EXIT:-0}" ;; esac
case "$*" in *" -e "*) printf '#!/usr/bin/env bash\\necho "netwarden $PWD $*"\\n' >.venv/bin/netwarden
                       chmod +x .venv/bin/netwarden ;; esac
"""
FAKE_NPM = """#!/usr/bin/env bash
echo "npm $*" >>"$SETUP_LOG"
rm -rf node_modules && mkdir node_modules
"""


def _fake_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("start", "scripts/setup", "pyproject.toml", "package.json", "package-lock.json"):
        (repo / name).write_bytes((REPO / name).read_bytes())
        (repo / name).chmod((REPO / name).stat().st_mode)
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").write_text(FAKE_PYTHON)
    (repo / ".venv" / "bin" / "python").chmod(0o755)
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "npm").write_text(FAKE_NPM)
    (tools / "npm").chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "SETUP_LOG": str(tmp_path / "log"),
           "PYTHON": sys.executable}
    env.pop("NETWARDEN_NO_SEQUENCE", None)
    return repo, env


COMPILE = "pip -m compileall -q netwarden"  # the fake python's log of setup's bytecode compilation


def _run(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[str, list[str]]:
    """The command's output and the installing calls it made (setup's bytecode compilation, which runs every
    time and costs nothing when nothing changed, left out)."""
    log.write_text("")
    r = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout, [call for call in log.read_text().splitlines() if call != COMPILE]


def test_setup_compiles_netwardens_bytecode_every_time(tmp_path: Path) -> None:
    """An editable install's modules are not compiled by pip; where no .pyc is written at run time
    (PYTHONDONTWRITEBYTECODE) every start compiled them again, so setup compiles them, after installing. A compile
    that fails (a tree another user owns) says so and stops neither setup nor ./start."""
    repo, env = _fake_repo(tmp_path)
    log = tmp_path / "log"
    for _ in range(2):
        log.write_text("")
        r = subprocess.run([str(repo / "scripts" / "setup")], cwd=repo, env=env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0 and log.read_text().splitlines()[-1] == COMPILE and r.stderr == ""
    failing = {**env, "COMPILE_EXIT": "1"}
    r = subprocess.run([str(repo / "scripts" / "setup")], cwd=repo, env=failing, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "bytecode not compiled" in r.stderr
    output, _ = _run([str(repo / "start"), "events"], repo, failing, log)
    assert output.strip() == f"netwarden {repo} events"


def _installs(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("npm ci") or " -e " in c]


def test_setup_runs_pip_and_npm_only_when_something_changed(tmp_path: Path) -> None:
    repo, env = _fake_repo(tmp_path)
    log = tmp_path / "log"
    setup = [str(repo / "scripts" / "setup")]
    _, calls = _run(setup, repo, env, log)
    assert _installs(calls) == ["pip -m pip install --quiet --disable-pip-version-check -e .[sequence]",
                                "npm ci --omit=dev --no-audit --no-fund --loglevel=error"]
    assert _run(setup, repo, env, log)[1] == []  # nothing changed: no pip, no npm
    _, calls = _run([*setup, "test"], repo, env, log)  # the test tools are an extra not yet installed
    assert _installs(calls) == ["pip -m pip install --quiet --disable-pip-version-check -e .[test,sequence]"]
    assert _run(setup, repo, env, log)[1] == []  # the test install covers the plain one
    assert _run([*setup, "test"], repo, env, log)[1] == []
    with (repo / "pyproject.toml").open("a") as f:
        f.write("\n# changed\n")
    assert [c.split()[-1] for c in _installs(_run(setup, repo, env, log)[1])] == [".[sequence]"]
    with (repo / "package-lock.json").open("a") as f:
        f.write("\n")
    assert [c.split()[0] for c in _installs(_run(setup, repo, env, log)[1])] == ["npm"]
    _, calls = _run(setup, repo, {**env, "NETWARDEN_NO_SEQUENCE": "1"}, log)
    assert calls == []  # an install with more extras covers one without torch


def test_start_keeps_the_callers_folder_for_commands(tmp_path: Path) -> None:
    repo, env = _fake_repo(tmp_path)
    log = tmp_path / "log"
    caller = tmp_path / "caller"
    caller.mkdir()
    output, _ = _run([str(repo / "start"), "ingest", "some.log"], caller, env, log)
    assert output.strip() == f"netwarden {caller} ingest some.log"
    output, _ = _run([str(repo / "start")], caller, env, log)  # the demo lives beside the script
    assert output.strip() == f"netwarden {repo} demo"
    output, _ = _run([str(repo / "start"), "--keep"], caller, env, log)
    assert output.strip() == f"netwarden {repo} demo --keep"
