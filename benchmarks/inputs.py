"""Benchmark inputs made from the real datasets, scaled up the way real logs grow.

A large access log is the 10,000 real lines of ``web-access-logs/apache_logs.gz`` repeated, each copy
shifted forward in time past the previous one, so timestamps keep increasing as in a real server's log
(indexes on time behave as they would in production).
"""

from __future__ import annotations

import gzip
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_STAMP = re.compile(r"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}) ([+-]\d{4})\]")


def datasets() -> Path:
    return Path(os.environ.get("NETWARDEN_DATASETS", REPO.parent / "shared" / "datasets"))


def scaled_access_log(target: Path, lines: int) -> Path:
    """Write (once) an access log of ``lines`` lines with increasing timestamps."""
    if target.exists() and sum(1 for _ in target.open("rb")) == lines:
        return target
    with gzip.open(datasets() / "web-access-logs" / "apache_logs.gz", "rt", encoding="utf-8") as f:
        base = f.read().splitlines()
    span = timedelta(days=4)  # the sample covers about 3.5 days
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as out:
        written = 0
        copy = 0
        while written < lines:
            shift = span * copy

            def moved(m: re.Match[str]) -> str:
                when = datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S") + shift
                return f"[{when:%d/%b/%Y:%H:%M:%S} {m.group(2)}]"

            for line in base:
                if written >= lines:
                    break
                out.write(_STAMP.sub(moved, line, count=1) + "\n")
                written += 1
            copy += 1
    return target
