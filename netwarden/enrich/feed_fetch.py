"""Threat feeds given by URL: downloaded on a schedule into a local folder, which the intel index reads like
any feed file. Without a network the last download stays in use and the error is kept for the settings
page; NetWarden never waits for a feed at start.

Each URL has a file in ``[intel] cache_dir`` and a status beside it (``<file>.status.json``: last update,
last attempt, last error, size), so the web app and ``netwarden intel refresh`` see the same state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
MAX_BYTES = 200 << 20  # a feed bigger than this is refused (the biggest public lists are ~30 MiB)
CHUNK = 1 << 16


def is_url(feed: str) -> bool:
    return feed.startswith(("http://", "https://"))


def local_path(url: str, cache_dir: str | os.PathLike[str]) -> Path:
    """Where a URL's download lives: its last path part (so the feed keeps a readable name) and a short hash
    of the whole URL (two lists both called ``ipset.txt`` do not collide)."""
    base = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "feed"
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    stem, dot, ext = base[:80].partition(".")
    return Path(cache_dir) / f"{stem}-{digest}{dot}{ext}"


def feed_paths(intel: Any) -> list[str]:
    """The ``[intel] feeds`` as files to read: a URL becomes its downloaded copy."""
    return [str(local_path(f, intel.cache_dir)) if is_url(f) else f for f in intel.feeds]


def status(url: str, cache_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = local_path(url, cache_dir)
    try:
        data = json.loads(Path(f"{path}.status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    return {"url": url, "path": str(path), "last_update": data.get("last_update"),
            "last_attempt": data.get("last_attempt"), "last_error": data.get("last_error"),
            "bytes": data.get("bytes"), "downloaded": path.is_file()}


def _save_status(path: Path, **values: Any) -> None:
    file = Path(f"{path}.status.json")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data.update(values)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(file)


def download(url: str, cache_dir: str | os.PathLike[str], *, timeout: float = 30.0) -> dict[str, Any]:
    """Fetch one feed now; on success the file is replaced at once (readers see old or new, never half).
    Never raises for a network or HTTP problem: the error is recorded and returned in the status."""
    import httpx

    path = local_path(url, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc).isoformat()
    tmp = path.with_name(path.name + ".part")
    try:
        size = 0
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if not response.is_success:
                raise OSError(f"HTTP {response.status_code}")
            with open(tmp, "wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise OSError(f"larger than {MAX_BYTES >> 20} MiB")
                    out.write(chunk)
        tmp.replace(path)
        _save_status(path, last_update=now, last_attempt=now, last_error=None, bytes=size)
    except (httpx.HTTPError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        message = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("threat feed %s: %s", url.split("?", 1)[0], message)
        _save_status(path, last_attempt=now, last_error=message)
    return status(url, cache_dir)


class FeedRefresher:
    """Downloads the URL feeds when they are older than ``[intel] refresh``, from a background thread."""

    def __init__(self, intel: Any, on_change: Any = None) -> None:
        self.intel = intel
        self.on_change = on_change  # called after downloads (the intel index reloads)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one download round at a time (schedule and "refresh now")
        self._thread: threading.Thread | None = None

    @property
    def urls(self) -> list[str]:
        return [f for f in self.intel.feeds if is_url(f)]

    def refresh(self, only_due: bool = False) -> list[dict[str, Any]]:
        from netwarden.durations import parse_duration

        every = parse_duration(self.intel.refresh).total_seconds()
        done = []
        with self._lock:
            for url in self.urls:
                if only_due:
                    last = status(url, self.intel.cache_dir)["last_attempt"]
                    if last and time.time() - datetime.fromisoformat(last).timestamp() < every:
                        continue
                done.append(download(url, self.intel.cache_dir, timeout=self.intel.download_timeout))
        if done and self.on_change is not None:
            self.on_change()
        return done

    def reconfigure(self, intel: Any) -> None:
        self.intel = intel
        self._wake.set()

    def start(self) -> FeedRefresher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="netwarden-feeds", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh(only_due=True)
            except Exception:  # a bug here must not end the schedule
                log.exception("threat feed refresh failed")
            self._wake.wait(60)  # look again in a minute (or at once after a change of settings)
            self._wake.clear()
