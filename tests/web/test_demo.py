"""``netwarden demo``: starts the server on embedded defaults, prints the address and a one-time password,
fills the store with simulated events and alerts within seconds, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

NETWARDEN = [sys.executable, "-c", "from netwarden.cli import main; main()"]


def _lines(proc: subprocess.Popen) -> queue.Queue:  # type: ignore[type-arg]
    q: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            q.put(line)
        q.put(None)

    threading.Thread(target=read, daemon=True).start()
    return q


def _count(db: Path, table: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # table names are ours
    except sqlite3.Error:
        return 0


def _start_demo(args: list[str], cwd: Path, output: list[str]):  # type: ignore[no-untyped-def]
    """A demo process, its output queue, its URL and its one-time password (None when it printed none)."""
    proc = subprocess.Popen([*NETWARDEN, "demo", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=cwd)
    lines = _lines(proc)
    url = password = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (output and "Ctrl-C" in output[-1]):
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        assert line is not None, "demo exited early:\n" + "".join(output)
        output.append(line)
        if m := re.search(r"(http://127\.0\.0\.1:\d+)/", line):
            url = m.group(1)
        if m := re.search(r"one-time password (\S+)", line):
            password = m.group(1)
    return proc, lines, url, password


def _stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_demo_starts_fills_and_stops(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    output: list[str] = []
    proc, lines, url, password = _start_demo(["--port", "0", "--db", f"sqlite:///{db}", "--history", "60",
                                              "--rate", "5", "--attack-every", "15", "--seed", "3"],
                                             tmp_path, output)
    try:
        assert url and password, "".join(output)
        assert httpx.get(f"{url}/login", timeout=10).status_code == 200
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and (_count(db, "alerts") == 0 or _count(db, "events") < 500):
            time.sleep(0.5)
        assert _count(db, "events") >= 500
        assert _count(db, "alerts") >= 1
        # the one-time password logs in (and must be changed: the account page asks for it)
        with httpx.Client(base_url=url, timeout=10) as client:
            form = client.get("/login").text
            token = re.search(r'name="login_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            r = client.post("/login", data={"username": "admin", "password": password, "login_token": token,
                                            "next": "/"}, follow_redirects=True)
            assert r.status_code == 200 and "password" in r.text.lower()
    finally:
        _stop(proc)
    while (line := lines.get(timeout=10)) is not None:  # the reader ends with None at end of output
        output.append(line)
    text = "".join(output)
    assert proc.returncode == 0, text
    assert "stopped after" in text and "Traceback" not in text


# uvicorn ends its thread with an exception when it cannot bind; the server reports it as the error below
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_demo_refuses_a_busy_port(tmp_path: Path) -> None:
    import socket

    from click.testing import CliRunner

    from netwarden.cli import cli

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        r = CliRunner().invoke(cli, ["demo", "--port", str(busy.getsockname()[1]), "--db",
                                     f"sqlite:///{tmp_path / 'd.db'}", "--history", "0"])
    finally:
        busy.close()
    assert r.exit_code == 2 and "--port" in r.output


def _refused(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A demo that should fail at once (a demo that starts instead runs into the timeout: a failure too)."""
    try:
        return subprocess.run([*NETWARDEN, "demo", "--history", "0", *args], cwd=cwd, capture_output=True,
                              text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"demo {args} started beside the running one") from None


def test_a_second_demo_leaves_the_running_one_alone(tmp_path: Path) -> None:
    """A second start while a demo runs fails before it deletes or creates anything; --keep keeps the users."""
    first: list[str] = []
    proc, _, url, password = _start_demo(["--port", "0", "--history", "0", "--rate", "1"], tmp_path, first)
    try:
        assert url and password, "".join(first)
        demo_db = tmp_path / "netwarden-demo.db"
        before = demo_db.stat()
        port = url.rsplit(":", 1)[1]
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        other_db = elsewhere / "netwarden-demo.db"
        other_db.write_bytes(b"another demo's file")
        # the same demo file: its lock refuses; another folder, the same port: refused before its file is touched
        same = _refused(["--port", "0"], tmp_path)
        busy = _refused(["--port", port], elsewhere)
        assert same.returncode == 2 and "another demo is running" in same.stderr, same.stderr
        assert busy.returncode == 2 and "--port" in busy.stderr and "nothing was changed" in busy.stderr, busy.stderr
        assert other_db.read_bytes() == b"another demo's file"
        after = demo_db.stat()
        assert (after.st_ino, after.st_nlink) == (before.st_ino, before.st_nlink) and after.st_nlink == 1
        assert httpx.get(f"{url}/login", timeout=10).status_code == 200
    finally:
        _stop(proc)
    # --keep: the same file, the same users (no new password), the old events still there
    events = _count(tmp_path / "netwarden-demo.db", "events")
    again: list[str] = []
    proc, _, url, password = _start_demo(["--port", "0", "--history", "0", "--rate", "1", "--keep"],
                                         tmp_path, again)
    try:
        assert url and password is None, "".join(again)
        assert "log in with a user of" in "".join(again)
        assert _count(tmp_path / "netwarden-demo.db", "events") >= events > 0
        assert _count(tmp_path / "netwarden-demo.db", "users") == 1
    finally:
        _stop(proc)
