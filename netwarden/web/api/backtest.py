"""``/api/v1/backtest`` (admins): "try on history" — replay stored events through candidate settings in a
background job (one at a time), with progress to poll; the result is what ``netwarden backtest --json``
prints. Nothing is stored by the replay."""

from __future__ import annotations

import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from netwarden.backtest import Backtest, BacktestError, apply_sets
from netwarden.durations import parse_duration
from netwarden.web.auth import Principal, require
from netwarden.web.jobs import JobBoard

router = APIRouter(tags=["backtest"])


class Candidate(BaseModel):
    since: str = Field("30d", max_length=40, description="30d, 12h, or an ISO time")
    until: str | None = Field(None, max_length=40, description="default: now")
    set: list[str] = Field(default_factory=list, max_length=50,
                           description="SECTION.KEY=VALUE changes, e.g. detect.port_scan.vertical_ports=30")
    model: str | None = Field(None, max_length=80, description="NAME[:VERSION] to swap in")
    threshold: float | None = Field(None, ge=0, le=1, description="the model's alert threshold")
    threshold_rules: str | None = Field(None, max_length=200_000,
                                        description="[[rules]] tables (TOML) to try instead of the threshold rules")
    sigma: str | None = Field(None, max_length=200_000, description="a Sigma rule file (YAML) to try beside the "
                                                                   "rules in force")


@dataclass
class BacktestJob:
    id: str
    by: str
    candidate: dict[str, Any]
    state: str = "running"  # running, done, failed
    done: int = 0
    total: int = 0
    error: str = ""
    result: dict[str, Any] | None = None
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def to_dict(self) -> dict[str, Any]:
        fraction = 1.0 if self.state == "done" else (self.done / self.total if self.total else 0.0)
        return {"id": self.id, "by": self.by, "state": self.state, "done": self.done, "total": self.total,
                "fraction": round(fraction, 4), "error": self.error, "candidate": self.candidate,
                "result": self.result, "started": self.started.isoformat()}


def board_of(request: Request) -> JobBoard[BacktestJob]:
    """This web process's backtests."""
    return request.app.state.runtime.backtests


def _when(text: str, what: str) -> datetime:
    text = text.strip()
    try:
        return datetime.now(timezone.utc) - parse_duration(text)
    except ValueError:
        pass
    except OverflowError:  # 10000000d: before the calendar starts
        raise HTTPException(400, f"{what}: {text!r} reaches back too far") from None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise HTTPException(400, f"{what}: {text!r} is neither a time span (30d, 12h) nor an ISO time") from None


@router.post("/backtest", status_code=202)
def backtest_start(request: Request, candidate: Candidate = Body(...),
                   who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Start a replay of the stored events through the candidate; poll ``GET /backtest/{id}``."""
    if candidate.threshold is not None and not candidate.model:
        raise HTTPException(400, "threshold goes with a model")
    since = _when(candidate.since, "since")
    until = _when(candidate.until, "until") if candidate.until else None
    if until is not None and until <= since:
        raise HTTPException(400, "until must be later than since")
    current = request.app.state.settings
    try:
        settings = apply_sets(current, [s for s in candidate.set if s.strip()])
        with candidate_rules(settings, candidate):
            runner = Backtest(request.app.state.db, settings, current=current, since=since, until=until,
                              model=candidate.model or None, threshold=candidate.threshold,
                              describe={"config": "current settings", "set": candidate.set,
                                        "model": candidate.model, "threshold": candidate.threshold,
                                        "threshold_rules": candidate.threshold_rules is not None,
                                        "sigma": candidate.sigma is not None})
    except BacktestError as exc:
        raise HTTPException(400, str(exc)) from None
    job = board_of(request).start(lambda: BacktestJob(uuid.uuid4().hex, who.name, candidate.model_dump()),
                                  "a backtest is already running; wait for it to finish")
    threading.Thread(target=_run, args=(job, runner), name=f"backtest-{job.id[:8]}", daemon=True).start()
    return job.to_dict()


@router.get("/backtest/{job_id}")
def backtest_job(request: Request, job_id: str = PathParam(pattern=r"^[0-9a-f]{32}$"),
                 who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return board_of(request).answer(job_id, "backtest")


@contextmanager
def candidate_rules(settings: Any, candidate: Candidate) -> Iterator[None]:
    """Rules written on the Rules page, not in force yet, put into the candidate's settings (a Sigma file
    lives in a scratch folder while the candidate engine compiles it)."""
    from netwarden.rules import RuleError, check_sigma, parse_threshold

    detect = {name: dict(table) for name, table in settings.detect.items()}
    with tempfile.TemporaryDirectory() as scratch:
        try:
            if candidate.threshold_rules is not None:
                detect.setdefault("threshold", {})["rules"] = parse_threshold(candidate.threshold_rules)
            if candidate.sigma is not None:
                path = Path(scratch) / "candidate.yml"
                try:
                    path.write_text(candidate.sigma, encoding="utf-8")
                except UnicodeEncodeError:
                    raise RuleError("the Sigma file is not UTF-8 text") from None
                check_sigma([str(path)])
                sigma = detect.setdefault("sigma", {})
                sigma["rules"] = [*sigma.get("rules", []), str(path)]
        except RuleError as exc:
            raise BacktestError(str(exc).replace(str(Path(scratch) / "candidate.yml"), "the Sigma file")) from None
        settings.detect = detect
        yield


def _run(job: BacktestJob, runner: Backtest) -> None:
    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    try:
        job.result = runner.run(progress).to_dict()
        job.state = "done"
    except Exception as exc:  # reported to the page; the web app goes on
        job.state, job.error = "failed", f"{type(exc).__name__}: {str(exc)[:300]}"
