"""A responder starting while another process blocks and unblocks on the same firewall (workers on a bus share
one): its reconcile removes only entries no block stands for, and re-applies only blocks still active. Real
PostgreSQL; the firewall is the command backend run on a file both responders change, whose listing waits
until the test has let the other responder act (the moment a start-up reconcile is exposed)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from netwarden.respond.responder import Responder
from netwarden.respond.settings import RespondSettings
from netwarden.store.database import Database
from tests.waiting import wait_for

# a firewall kept in a file, one network a line; "list" says it started, then waits for the file "go"
FIREWALL = """
import fcntl, sys, time
from pathlib import Path
state, action = Path(sys.argv[1]), sys.argv[2]
if action == "list":
    Path(str(state) + ".listing").touch()
    while not Path(str(state) + ".go").exists():
        time.sleep(0.01)
with open(str(state) + ".lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    entries = state.read_text().split() if state.exists() else []
    if action == "list":
        print("\\n".join(entries))
    elif action == "add" and sys.argv[3] not in entries:
        state.write_text("".join(e + "\\n" for e in entries + [sys.argv[3]]))
    elif action == "del":
        state.write_text("".join(e + "\\n" for e in entries if e != sys.argv[3]))
"""


def shared_firewall(tmp_path: Path) -> tuple[RespondSettings, Path]:
    script = tmp_path / "firewall.py"
    script.write_text(FIREWALL)
    state = tmp_path / "firewall"
    settings = RespondSettings(mode="enforce", backend="command")
    run = [sys.executable, str(script), str(state)]
    settings.command.add = [*run, "add", "{address}"]
    settings.command.remove = [*run, "del", "{address}"]
    settings.command.entries = [*run, "list"]
    return settings, state


def entries(state: Path) -> set[str]:
    return set(state.read_text().split()) if state.exists() else set()


def test_a_starting_responder_keeps_what_another_blocks_meanwhile(tmp_path: Path, pg_url: str) -> None:
    settings, state = shared_firewall(tmp_path)
    Path(f"{state}.go").touch()  # the first responder's own start lists at once
    db = Database.open(pg_url)
    first = Responder(db, settings).start(sweep=False)
    second = None
    try:
        hour = timedelta(hours=1)
        first.block("198.51.100.7", reason="scan", by="alice", duration=hour)
        ended = first.block("198.51.100.9", reason="scan", by="alice", duration=hour)
        assert first.flush(30)
        with state.open("a") as f:
            f.write("198.51.100.99/32\n")  # an entry no block stands for
        assert entries(state) == {"198.51.100.7/32", "198.51.100.9/32", "198.51.100.99/32"}

        Path(f"{state}.go").unlink()
        Path(f"{state}.listing").unlink()  # the first responder's start listed too
        second = Responder(db, settings).start(sweep=False)  # its reconcile waits in the firewall's listing
        wait_for(Path(f"{state}.listing").exists, 30, "the second responder to list the firewall")
        first.block("198.51.100.8", reason="brute force", by="alice", duration=hour)
        first.unblock(ended.id, by="bob")
        assert first.flush(30)
        assert entries(state) == {"198.51.100.7/32", "198.51.100.8/32", "198.51.100.99/32"}
        Path(f"{state}.go").touch()
        assert second.flush(30)

        # the block made meanwhile stays, the one ended meanwhile is not put back, the stray is gone
        assert entries(state) == {"198.51.100.7/32", "198.51.100.8/32"}
    finally:
        first.close()
        if second is not None:
            second.close()
        db.close()
