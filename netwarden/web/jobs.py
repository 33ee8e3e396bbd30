"""A web process's background jobs of one kind (model training, backtests): one runs at a time, since each
takes the CPU the pipeline needs, and the newest few are kept for polling by id."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from fastapi import HTTPException


class Job(Protocol):
    id: str
    state: str  # running, done, failed

    def to_dict(self) -> dict[str, Any]: ...


J = TypeVar("J", bound=Job)
MODEL_JOBS_KEPT = 20
BACKTESTS_KEPT = 10
TESTS_KEPT = 10  # per-row results of the latest model tests, downloadable


class JobBoard(Generic[J]):
    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.jobs: dict[str, J] = {}
        self.lock = threading.Lock()

    def running(self) -> J | None:
        return next((j for j in self.jobs.values() if j.state == "running"), None)

    def start(self, make: Callable[[], J], busy: str) -> J:
        """A new job from ``make()``, unless one is running (409 saying ``busy``); the oldest past ``keep``
        are forgotten."""
        with self.lock:
            if self.running() is not None:
                raise HTTPException(409, busy)
            job = make()
            self.jobs[job.id] = job
            for old in list(self.jobs)[:-self.keep]:
                del self.jobs[old]
        return job

    def answer(self, job_id: str, what: str) -> dict[str, Any]:
        """The job's state for the client polling it; 404 naming ``what`` when it is unknown or forgotten."""
        job = self.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no {what} {job_id}")
        return job.to_dict()


class KeptTexts:
    """The newest ``keep`` texts by a random key (the per-row results of model tests, for download)."""

    def __init__(self, keep: int = TESTS_KEPT) -> None:
        self.keep = keep
        self.rows: dict[str, str] = {}
        self.lock = threading.Lock()

    def keep_text(self, text: str) -> str:
        key = uuid.uuid4().hex
        with self.lock:
            self.rows[key] = text
            for old in list(self.rows)[:-self.keep]:
                del self.rows[old]
        return key
