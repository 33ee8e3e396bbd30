"""The writer process of an import must not outlive its parent: after a kill -9 of ``ingest`` it exits
(it no longer commits), and so does multiprocessing's resource tracker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PARENT = """
import sys, threading, time
from multiprocessing import resource_tracker
from netwarden.store.database import Database
from netwarden.store.writer import ProcessWriter

db = Database.open(sys.argv[1])
if sys.argv[2] == "thread":  # created from a thread that then ends: the writer must live on
    box = []
    t = threading.Thread(target=lambda: box.append(ProcessWriter(db)))
    t.start(); t.join()
    writer = box[0]
else:
    writer = ProcessWriter(db)
print(writer._process.pid, resource_tracker._resource_tracker._pid, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has exited


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


@pytest.mark.parametrize("started_from", ["main", "thread"])
def test_writer_and_resource_tracker_exit_when_ingest_is_killed(tmp_path: Path, started_from: str) -> None:
    url = f"sqlite:///{tmp_path / 'nw.db'}"
    from netwarden.store.database import Database

    Database.open(url).close()  # migrated once, here
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), *sys.path])}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, url, started_from], stdout=subprocess.PIPE, env=env,
                              text=True)
    try:
        writer, tracker = (int(x) for x in parent.stdout.readline().split())  # type: ignore[union-attr]
        assert alive(writer) and alive(tracker)
        if started_from == "thread":
            time.sleep(1.5)  # the thread that started it has ended: the writer must not die with it
            assert alive(writer)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        left = wait_gone([writer, tracker], 15)
        for pid in left:  # do not leave them behind when the test fails
            os.kill(pid, signal.SIGKILL)
        assert not left, f"still running after the parent's kill -9: {left}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
