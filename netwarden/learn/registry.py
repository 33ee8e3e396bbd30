"""The model registry: versioned models as an artefact directory plus a database row.

A model is named by the administrator (``kdd-forest``); every training under that name adds a version.
Artefacts live in ``<models_dir>/<name>/v<version>/`` and the row keeps their SHA-256, so a file changed
behind the registry's back is refused before it is read. Any number of models may be active (the ``ml``
detector runs them all), one version per name: activating ``kdd-forest:3`` retires ``kdd-forest:2``.

>>> registry = ModelRegistry(db, Path("netwarden-models"))      # doctest: +SKIP
>>> record = registry.add(model, name="kdd-forest", data={...}, metrics={...})
>>> registry.activate("kdd-forest")                             # the newest version
"""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from netwarden.learn import artefacts
from netwarden.learn.base import Model, ModelError
from netwarden.records import Event, SourceKind
from netwarden.store.schema_learn import models as models_table

MAX_ID = 2**63 - 1  # the largest id (and version) every engine stores
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class ModelRecord:
    id: int
    name: str
    version: int
    algorithm: str
    family: str
    task: str
    data: dict[str, Any]
    params: dict[str, Any]
    metrics: dict[str, Any]
    threshold: float
    active: bool
    artefact: str
    digest: str
    created: datetime

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["created"] = self.created.isoformat()
        out["ref"] = self.ref
        return out


class ModelRegistry:
    def __init__(self, db: Any, directory: Path | str) -> None:
        self.db = db
        self.directory = Path(directory)

    # -- adding -----------------------------------------------------------------------------------

    def add(self, model: Model, *, name: str, data: dict[str, Any], metrics: dict[str, Any]) -> ModelRecord:
        """Save ``model`` as the next version of ``name``; returns its row."""
        check_name(name)
        with self.db.engine.begin() as conn:
            newest = conn.execute(select(func.max(models_table.c.version))
                                  .where(models_table.c.name == name)).scalar()
            version = (newest or 0) + 1
            relative = f"{name}/v{version}"
            target = self.directory / relative
            if target.exists():  # left over by a crash or a deleted row: never mix two models' files
                shutil.rmtree(target)
            try:
                model.save(target)
                row = {"name": name, "version": version, "algorithm": model.algorithm, "family": model.family,
                       "task": model.task, "data": data, "params": model.params, "metrics": metrics,
                       "threshold": float(model.threshold), "active": False, "artefact": relative,
                       "digest": artefacts.digest(target), "created": datetime.now(UTC)}
                new_id = conn.execute(models_table.insert().values(**row)).inserted_primary_key[0]
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
        return ModelRecord(id=int(new_id), **row)

    # -- reading ----------------------------------------------------------------------------------

    def list(self, name: str | None = None) -> list[ModelRecord]:
        stmt = select(models_table).order_by(models_table.c.name, models_table.c.version)
        if name is not None:
            stmt = stmt.where(models_table.c.name == name)
        with self.db.engine.connect() as conn:
            return [_record(r._mapping) for r in conn.execute(stmt)]

    def active(self) -> list[ModelRecord]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(models_table).where(models_table.c.active.is_(True))
                                .order_by(models_table.c.name))
            return [_record(r._mapping) for r in rows]

    def get(self, ref: str | int) -> ModelRecord:
        """By id, ``name:version`` or ``name`` (its newest version). Unknown: ModelError."""
        stmt = select(models_table)
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isascii() and ref.isdigit()):
            if not 0 < int(ref) <= MAX_ID:  # a 40-digit id overflows the drivers: no such model, not a crash
                raise ModelError(f"no model {str(ref)[:40]!r} (see `netwarden model list`)")
            stmt = stmt.where(models_table.c.id == int(ref))
        else:
            name, _, version = ref.partition(":")
            stmt = stmt.where(models_table.c.name == name)
            if version:
                if not (version.isascii() and version.isdigit()) or int(version) > MAX_ID:
                    raise ModelError(f"bad model reference {ref!r}: use name, name:version or an id")
                stmt = stmt.where(models_table.c.version == int(version))
            stmt = stmt.order_by(models_table.c.version.desc()).limit(1)
        with self.db.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise ModelError(f"no model {ref!r} (see `netwarden model list`)")
        return _record(row._mapping)

    def load(self, ref: str | int | ModelRecord) -> Model:
        """The trained model, after checking its files are the ones the registry saved."""
        record = ref if isinstance(ref, ModelRecord) else self.get(ref)
        path = self.path(record)
        if not path.is_dir():
            raise ModelError(f"model {record.ref}: artefact directory {path} is missing")
        if artefacts.digest(path) != record.digest:
            raise ModelError(f"model {record.ref}: the files in {path} changed since it was saved; refused")
        model = Model.load(path)
        if model.algorithm != record.algorithm:
            raise ModelError(f"model {record.ref}: the artefact holds {model.algorithm}, not {record.algorithm}")
        model.threshold = record.threshold
        return model

    def path(self, record: ModelRecord) -> Path:
        path = (self.directory / record.artefact).resolve()
        if not path.is_relative_to(self.directory.resolve()):  # a row is data too: never leave the directory
            raise ModelError(f"model {record.ref}: artefact path {record.artefact!r} is outside {self.directory}")
        return path

    # -- changing ---------------------------------------------------------------------------------

    def activate(self, ref: str | int) -> ModelRecord:
        record = self.get(ref)
        # a model that cannot load, or loads but cannot score, must not become the detector's problem
        check_scores(self.load(record), record.ref)
        with self.db.engine.begin() as conn:
            conn.execute(update(models_table).where(models_table.c.name == record.name).values(active=False))
            conn.execute(update(models_table).where(models_table.c.id == record.id).values(active=True))
        record.active = True
        return record

    def deactivate(self, ref: str | int) -> ModelRecord:
        record = self.get(ref)
        with self.db.engine.begin() as conn:
            conn.execute(update(models_table).where(models_table.c.id == record.id).values(active=False))
        record.active = False
        return record

    def set_threshold(self, ref: str | int, threshold: float) -> ModelRecord:
        if not 0.0 < threshold <= 1.0:
            raise ModelError("the threshold is a score between 0 (exclusive) and 1")
        record = self.get(ref)
        with self.db.engine.begin() as conn:
            conn.execute(update(models_table).where(models_table.c.id == record.id).values(threshold=threshold))
        record.threshold = threshold
        return record

    def delete(self, ref: str | int) -> ModelRecord:
        record = self.get(ref)
        path = self.path(record)
        with self.db.engine.begin() as conn:
            conn.execute(delete(models_table).where(models_table.c.id == record.id))
        shutil.rmtree(path, ignore_errors=True)
        return record


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise ModelError(f"bad model name {name!r}: letters, digits, '.', '_' and '-', at most 64, "
                         "starting with a letter or digit")
    return name


def probe_events(model: Model) -> list[Event]:
    """A few records of every kind the pipeline feeds the ml detector, plus (flow-feature models) one that
    carries each learned numeric feature: enough to make a model run its whole scoring path."""
    now = datetime.now(UTC)
    events = [
        Event(timestamp=now, source_kind=SourceKind.ACCESS_LOG, src_ip="192.0.2.1", http_method="GET", url="/",
              http_status=200, user_agent="probe", bytes_out=100),
        Event(timestamp=now, source_kind=SourceKind.AUTH, src_ip="192.0.2.2", user="probe", outcome="failure",
              app_protocol="ssh", extra={"ssh_event": "failed_password"}),
        Event(timestamp=now, source_kind=SourceKind.NETFLOW, src_ip="192.0.2.3", dst_ip="198.51.100.1",
              src_port=40000, dst_port=443, transport="tcp", bytes_out=1200, bytes_in=5400, packets_out=10,
              packets_in=12, duration=1.5),
    ]
    spec = getattr(model, "spec_", None)
    numeric = list(getattr(spec, "numeric", None) or ())
    if numeric:
        events.append(Event(timestamp=now, source_kind=SourceKind.NETFLOW, src_ip="192.0.2.4",
                            transport="tcp", extra={name: 1.0 for name in numeric}))
    return events


def check_scores(model: Model, ref: str) -> None:
    """Score (and for category models, label) a few probe records; ModelError with the reason if it fails."""
    events = probe_events(model)
    try:
        scores = model.score(events)
        if model.task == "category":
            model.predict(events)
        if len(scores) != len(events):
            raise ValueError(f"{len(scores)} scores for {len(events)} records")
    except Exception as exc:  # whatever the estimator raises: it cannot run in the detector
        raise ModelError(f"model {ref} cannot score records ({type(exc).__name__}: {str(exc)[:300]}); "
                         "not activated") from None


def _record(row: Any) -> ModelRecord:
    return ModelRecord(**{k: row[k] for k in ModelRecord.__dataclass_fields__})


def open_registry(db: Any, settings: Any) -> ModelRegistry:
    """The registry of a configured installation (``settings`` is netwarden.config.Settings); the default
    artefact directory sits beside the database actually opened (which a --db option may have changed)."""
    from netwarden.learn.settings import models_dir

    return ModelRegistry(db, models_dir(settings.learn, db.engine.url.render_as_string(hide_password=False)))
