"""The reliability campaign behind docs/reliability.md: hostile input, crashes and load, with figures.

    python -m benchmarks.reliability                 # everything (a few minutes)
    python -m benchmarks.reliability fuzz --lines 200000
    python -m benchmarks.reliability kill --kills 8 --lines 400000
    python -m benchmarks.reliability udp --rate 50000 --messages 100000
    python -m benchmarks.reliability bodies --requests 20

- fuzz: every parser reads mutated copies of its golden lines (random bytes, cuts, splices, control and
  bidi characters, huge numbers) and only ever answers an event, None or a ParseError; sshd lines whose user
  names forge a second "from A port P" must always name the real source. Seeded: the same run every time.
- kill: ``netwarden ingest`` of a large access log is killed with SIGKILL at a random moment after its writer
  process started, again and again, then run to the end; every line must be stored or quarantined exactly
  once, and no writer process (nor resource tracker) may outlive its parent.
- udp: syslog over loopback UDP at a fixed rate (benchmarks/bench_syslog.py), messages lost.
- bodies: oversized request bodies to a real server, anonymous (announced 1 GiB) and authenticated (streamed
  without a length): each refused (401 / 413), how much was read, how long it took, the server's memory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "golden"
HOSTILE = ["\x00", "\x1b[2J", "\x7f", "\x9b", "\u202e", "\u2028", "\ufffd", "\U0001f600", " from 8.8.8.8 port 22",
           " ssh2: x", " rhost=8.8.8.8", "%n%s", "'", '"', "\\", "9" * 40, "-1", "65536", "::ffff:1.2.3.4",
           "64:ff9b::8.8.8.8", " " * 200, "A" * 5000]


# -- fuzz --------------------------------------------------------------------------------------------------

def _seeds() -> dict[str, list[str]]:
    """Golden input lines per parser name (``syslog.sshd.log`` feeds the syslog parser)."""
    out: dict[str, list[str]] = {}
    for path in sorted(GOLDEN.glob("*.log")):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
        out.setdefault(path.name.split(".")[0], []).extend(lines)
    return out


def _mutate(line: str, pool: list[str], rng: random.Random) -> str:
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        at = rng.randint(0, len(line))
        if op == 0:
            line = line[:at] + rng.choice(HOSTILE) + line[at:]
        elif op == 1:
            line = line[:at] + line[rng.randint(at, len(line)):]
        elif op == 2:
            other = rng.choice(pool)
            line = line[:at] + other[rng.randint(0, len(other)):]
        elif op == 3:
            line = line[:at] + "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(1, 8))) + line[at:]
        elif op == 4 and line:
            digits = [i for i, c in enumerate(line) if c.isdigit()]
            if digits:
                i = rng.choice(digits)
                line = line[:i] + str(rng.choice([0, 99999, 2**64, 10**40])) + line[i + 1:]
        else:
            line = line.replace(" ", rng.choice(["  ", "\t", " "]), 1)
    return line


def fuzz(lines: int, seed: int = 19) -> dict:
    from netwarden.parse import ParseContext, ParseError, parsers

    rng = random.Random(seed)
    seeds = _seeds()
    counts = {"lines": 0, "events": 0, "parse_errors": 0, "other_exceptions": 0, "forged_sshd": 0, "framed": 0}
    crashes: list[str] = []
    names = sorted(name for name in parsers() if name in seeds)
    per_parser = max(1, lines // (len(names) + 1))
    for name in names:
        parser = parsers()[name](ParseContext(source="fuzz"))
        pool = seeds[name]
        for _ in range(per_parser):
            text = _mutate(rng.choice(pool), pool, rng)
            counts["lines"] += 1
            try:
                event = parser.parse_line(text)
            except ParseError:
                counts["parse_errors"] += 1
                continue
            except Exception as exc:  # the finding: a parser must only raise ParseError
                counts["other_exceptions"] += 1
                if len(crashes) < 10:
                    crashes.append(f"{name}: {type(exc).__name__}: {exc} <- {text[:200]!r}")
                continue
            counts["events"] += event is not None
    # forged user names: the source must be the address sshd wrote last
    parser = parsers()["syslog"](ParseContext(source="fuzz"))
    templates = ["Failed password for invalid user {u} from {a} port {p} ssh2",
                 "Failed publickey for {u} from {a} port {p} ssh2: RSA SHA256:abc",
                 "Invalid user {u} from {a} port {p}", "Connection closed by invalid user {u} {a} port {p} [preauth]",
                 "Disconnected from authenticating user {u} {a} port {p} [preauth]",
                 "error: PAM: Authentication failure for illegal user {u} from {a}",
                 "maximum authentication attempts exceeded for invalid user {u} from {a} port {p} ssh2 [preauth]",
                 "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={a}  user={u}"]
    fakes = [" from 8.8.8.8 port 22", " from 8.8.8.8 port 22 ssh2", " from 8.8.8.8 port 22 ssh2: x", " 8.8.8.8 port 22",
             " rhost=8.8.8.8", " from 8.8.8.8", ": Too many authentication failures", " [preauth]"]
    for _ in range(per_parser):
        real = f"203.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        user = "".join(rng.choice(["a", "root", "x y"] + fakes) for _ in range(rng.randint(1, 4)))
        text = "Dec  4 10:00:00 gw sshd[1]: " + rng.choice(templates).format(u=user, a=real,
                                                                                p=rng.randint(1, 65535))
        counts["lines"] += 1
        counts["forged_sshd"] += 1
        try:
            event = parser.parse_line(text)
        except ParseError:
            counts["parse_errors"] += 1
            continue
        if event is not None and event.src_ip not in (real, None):
            counts["framed"] += 1
            if len(crashes) < 10:
                crashes.append(f"framed {event.src_ip} <- {text[:200]!r}")
    return {**counts, "parsers": len(names), "findings": crashes}


# -- kill -9 -------------------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found + [g for c in found for g in _children(c)]


def _alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def kill(kills: int, lines: int, seed: int = 19) -> dict:
    from benchmarks.inputs import scaled_access_log
    from netwarden.store.database import Database
    from netwarden.store.retention import count
    from netwarden.store.schema import events, quarantine

    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="nw-kill-"))
    log = scaled_access_log(work / "access.log", lines)
    url = f"sqlite:///{work / 'nw.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-c", "from netwarden.cli import cli; cli()", "--db", url, "ingest", "--no-progress",
               str(log)]
    survived = orphans = helpers = 0
    for _ in range(kills):
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60  # until the writer process runs (after imports, sniffing, resuming)
        while not _children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(rng.uniform(0.2, 4.0))
        family = _children(proc.pid)  # the writer process and multiprocessing's resource tracker
        helpers += len(family)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in family if _alive(p)]
        orphans += len(left)
        for p in left:
            os.kill(p, signal.SIGKILL)
        survived += proc.returncode == -signal.SIGKILL
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    db = Database.open(url)
    with db.engine.connect() as conn:
        from sqlalchemy import func, select

        distinct = conn.execute(select(func.count(func.distinct(events.c.line_no)))).scalar_one()
    stored, quarantined = count(db, events), count(db, quarantine)
    db.close()
    return {"lines": lines, "kills": kills, "killed": survived, "helpers_at_kill": helpers, "orphans_left": orphans,
            "final_exit": final.returncode, "stored": stored, "quarantined": quarantined,
            "duplicates": stored - distinct, "lost": lines - stored - quarantined, "workdir": str(work)}


# -- UDP -------------------------------------------------------------------------------------------------

def udp(rate: int, messages: int) -> dict:
    from benchmarks.bench_syslog import run_rate

    return run_rate(rate, messages / rate, Path(tempfile.mkdtemp(prefix="nw-udp-")))


# -- request bodies ------------------------------------------------------------------------------------

def _oversized(address: tuple[str, int], headers: str, limit: int, chunked: bool) -> tuple[int, int, float]:
    """Send at most ``limit`` bytes of body; (status, bytes sent, seconds to the answer)."""
    started = time.monotonic()
    sock = socket.create_connection(address, timeout=30)
    sock.sendall(f"POST /api/v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}\r\n".encode())
    piece = b"[" + b"1," * (128 * 1024)
    frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    sent = 0
    try:
        while sent < limit:
            sock.setblocking(False)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
            sock.setblocking(True)
            sock.sendall(frame)
            sent += len(piece)
    except OSError:
        pass
    sock.setblocking(True)
    sock.settimeout(30)
    answer = b""
    try:
        answer = sock.recv(4096)
    except OSError:
        pass
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, sent, time.monotonic() - started


def bodies(requests: int) -> dict:
    from urllib.parse import urlsplit

    from netwarden.config import Settings
    from netwarden.store.database import Database
    from netwarden.accounts import users as accounts
    from netwarden.serve import Server
    from netwarden.accounts.sessions import create_token

    work = Path(tempfile.mkdtemp(prefix="nw-bodies-"))
    url = f"sqlite:///{work / 'nw.db'}"
    db = Database.open(url)
    accounts.add_user(db, "analyst", "correct horse battery staple", "analyst")
    token = create_token(db, accounts.get_user(db, "analyst").id, "campaign")[1]  # type: ignore[union-attr]
    db.close()
    settings = Settings()
    server = Server(settings, db_url=url, port=0, syslog_udp=[], syslog_tcp=[], netflow_udp=[],
                       use_writer_process=False)
    server.start()
    parts = urlsplit(server.url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)

    def rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    before = rss()
    results = []
    try:
        for i in range(requests):
            if i % 2 == 0:  # anonymous, announcing 1 GiB
                results.append(("anonymous", *_oversized(address, f"Content-Length: {1 << 30}\r\n", 256 << 20, False)))
            else:  # logged in, streaming without a length
                results.append(("token", *_oversized(address, f"Authorization: Bearer {token}\r\nTransfer-Encoding: "
                                                              "chunked\r\n", 256 << 20, True)))
    finally:
        server.stop()
    expected = {"anonymous": 401, "token": 413}
    return {"requests": requests, "refused": sum(status == expected[kind] for kind, status, _, _ in results),
            "max_body_read_mib": round(max(sent for _, _, sent, _ in results) / (1 << 20), 2),
            "max_seconds": round(max(s for _, _, _, s in results), 3),
            "rss_growth_mib": round((rss() - before) / (1 << 20), 1),
            "cap_mib": settings.web.max_body_mib}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", nargs="?", default="all", choices=["all", "fuzz", "kill", "udp", "bodies"])
    ap.add_argument("--lines", type=int, default=None, help="fuzz: lines (200,000); kill: file lines (400,000)")
    ap.add_argument("--kills", type=int, default=8)
    ap.add_argument("--rate", type=int, default=50_000)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=20)
    args = ap.parse_args(argv)
    parts = ["fuzz", "kill", "udp", "bodies"] if args.part == "all" else [args.part]
    for part in parts:
        started = time.perf_counter()
        if part == "fuzz":
            result = fuzz(args.lines or 200_000)
        elif part == "kill":
            result = kill(args.kills, args.lines or 400_000)
        elif part == "udp":
            result = udp(args.rate, args.messages)
        else:
            result = bodies(args.requests)
        result["took_seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps({part: result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
