"""``/api/v1/models``: the model lab over HTTP. List and compare trained models, train one from an uploaded
labelled file (in the background, with progress), activate, deactivate, delete, and check one record.

Viewers read and check; analysts train and (de)activate; admins delete. An upload is read as text by
NetWarden's own parsers (never unpickled); at most ``[web] max_upload_mib``, one training at a time.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam

from netwarden.learn import lab
from netwarden.learn.base import ModelError, algorithms, create
from netwarden.learn.registry import ModelRecord, ModelRegistry, check_name, open_registry
from netwarden.web.auth import Principal, require
from netwarden.web.jobs import JobBoard

router = APIRouter(tags=["models"])
Ref = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(:[0-9]{1,9})?$",
                               description="name, name:version or id")]


@dataclass
class TrainingJob:
    id: str
    algorithm: str
    name: str
    by: str
    state: str = "running"  # running, done, failed
    stage: str = "queued"
    fraction: float = 0.0
    error: str = ""
    model: str = ""
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "algorithm": self.algorithm, "name": self.name, "by": self.by, "state": self.state,
                "stage": self.stage, "fraction": round(self.fraction, 4), "error": self.error, "model": self.model,
                "problems": self.problems}


def registry_of(request: Request) -> ModelRegistry:
    return open_registry(request.app.state.db, request.app.state.settings)


def board_of(request: Request) -> JobBoard[TrainingJob]:
    """This web process's trainings."""
    return request.app.state.runtime.model_jobs


def _get(registry: ModelRegistry, ref: str) -> ModelRecord:
    try:
        return registry.get(ref)
    except ModelError as exc:
        raise HTTPException(404, str(exc)) from None


def summary(record: ModelRecord) -> dict[str, Any]:
    """A model without its curves and per-label tables (the list); ``/models/{ref}`` has everything."""
    out = record.to_dict()
    out["metrics"] = {k: v for k, v in record.metrics.items() if k not in ("roc", "by_label", "category")}
    return out


@router.get("/models")
def models_list(request: Request, who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Every trained model version with its headline metrics."""
    return {"models": [summary(r) for r in registry_of(request).list()]}


@router.get("/models/algorithms")
def models_algorithms(who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """What can be trained: name, family, description and default parameters."""
    return {"algorithms": [{"name": n, "family": c.family, "description": c.description,
                            "supervised": c.supervised, "params": c.default_params, "unavailable": c.unavailable()}
                           for n, c in algorithms().items()]}


@router.get("/models/compare")
def models_compare(request: Request, refs: str = Query(..., max_length=2000, description="comma-separated refs"),
                   who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Several models side by side, with confusion matrices and ROC curves."""
    registry = registry_of(request)
    wanted = [r.strip() for r in refs.split(",") if r.strip()]
    if not 1 <= len(wanted) <= 10:
        raise HTTPException(400, "refs: between 1 and 10 models")
    return {"models": [_get(registry, r).to_dict() for r in wanted]}


@router.get("/models/jobs/{job_id}")
def models_job(request: Request, job_id: str = PathParam(pattern=r"^[0-9a-f]{32}$"),
               who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return board_of(request).answer(job_id, "training job")


@router.get("/models/{ref}")
def models_one(request: Request, ref: Ref, who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _get(registry_of(request), ref).to_dict()


@router.post("/models/train", status_code=202)
def models_train(request: Request, data: UploadFile = File(..., description="labelled training file"),
                 algorithm: str = Form(..., max_length=64), task: str = Form("binary", pattern="^(binary|category)$"),
                 name: str = Form("", max_length=64), params: str = Form("", max_length=4000,
                                                                         description="key=value, one a line"),
                 test_size: float = Form(0.3, gt=0, lt=1), label_column: str = Form("", max_length=128),
                 fmt: str = Form("", max_length=32, alias="format"),
                 who: Principal = Depends(require("analyst"))) -> dict[str, Any]:
    """Start training on the uploaded file; poll ``/models/jobs/{id}`` for progress."""
    if algorithm not in algorithms():
        raise HTTPException(400, f"unknown algorithm {algorithm!r}; known: {', '.join(algorithms())}")
    parsed = parse_params(params)
    try:
        create(algorithm, task, **parsed)  # wrong parameters are a 400 now, not a failed job later
        if name:
            check_name(name)
    except ModelError as exc:
        raise HTTPException(400, str(exc)) from None
    board = board_of(request)
    workdir = Path(tempfile.mkdtemp(prefix="netwarden-train-"))
    try:
        path = workdir / "upload"
        _save_upload(data, path, max_upload(request.app.state.settings))
        job = board.start(lambda: TrainingJob(uuid.uuid4().hex, algorithm, name or algorithm.replace("_", "-"),
                                               who.name), "a model is being trained already; wait for it to finish")
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    registry = registry_of(request)
    seed = request.app.state.settings.learn.seed
    thread = threading.Thread(target=_run, name=f"train-{job.id[:8]}", daemon=True,
                              args=(job, registry, path, workdir, dict(algorithm=algorithm, task=task, params=parsed,
                                                                       name=job.name, test_size=test_size, seed=seed,
                                                                       label_column=label_column or None,
                                                                       fmt=fmt or None)))
    thread.start()
    return job.to_dict()


def parse_params(text: str) -> dict[str, str]:
    out = {}
    for line in text.replace(",", "\n").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise HTTPException(400, f"params: {line.strip()[:60]!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def max_upload(settings: Any) -> int:
    """The largest training file accepted, in bytes."""
    return int(settings.web.max_upload_mib * 2**20)


def _save_upload(upload: UploadFile, path: Path, limit: int) -> None:
    size = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"the file is larger than {limit / 2**20:g} MiB")
            out.write(chunk)
    if size == 0:
        raise HTTPException(400, "the uploaded file is empty")


def _run(job: TrainingJob, registry: ModelRegistry, path: Path, workdir: Path, options: dict[str, Any]) -> None:
    def progress(stage: str, fraction: float) -> None:
        job.stage, job.fraction = stage, fraction

    try:
        result = lab.train(registry, data=path, progress=progress, **options)
        job.model = result.record.ref if result.record else ""
        job.problems = result.problems
        job.state, job.fraction, job.stage = "done", 1.0, "done"
    except ModelError as exc:
        job.state, job.error = "failed", str(exc).replace(str(path), "the upload")
    except Exception as exc:  # noqa: BLE001 - a failed training is reported on the job, never a dead thread
        job.state, job.error = "failed", f"training failed: {type(exc).__name__}: {str(exc)[:300]}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _change(request: Request, ref: str, action: str) -> dict[str, Any]:
    registry = registry_of(request)
    _get(registry, ref)
    try:
        return getattr(registry, action)(ref).to_dict()
    except ModelError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/models/{ref}/activate")
def models_activate(request: Request, ref: Ref, who: Principal = Depends(require("analyst"))) -> dict[str, Any]:
    """Run this model in the pipeline (the ml detector picks it up within its reload interval)."""
    return _change(request, ref, "activate")


@router.post("/models/{ref}/deactivate")
def models_deactivate(request: Request, ref: Ref, who: Principal = Depends(require("analyst"))) -> dict[str, Any]:
    return _change(request, ref, "deactivate")


@router.delete("/models/{ref}")
def models_delete(request: Request, ref: Ref, who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return _change(request, ref, "delete")


@router.post("/models/{ref}/predict")
def models_predict(request: Request, ref: Ref, record: dict[str, Any] = Body(...),
                   top: int = Query(5, ge=1, le=20), who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Check one record (flow features or event fields) with a model: score, verdict, explanation."""
    registry = registry_of(request)
    record_row = _get(registry, ref)
    if len(record) > 200 or any(len(str(k)) > 64 for k in record):
        raise HTTPException(400, "at most 200 fields with names of at most 64 characters")
    try:
        model = registry.load(record_row)
        return {"model": record_row.ref, **lab.predict_one(model, record, top)}
    except ModelError as exc:
        raise HTTPException(400, str(exc)) from None
