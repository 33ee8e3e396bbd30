"""Settings an administrator changes in the web app, applied without a restart over the file's values.

Each change is a row of ``setting_changes`` (who, when, old and new value): the audit trail; the newest row
of a key is its value, ``NULL`` meaning "the file's value again". Values are validated by the same pydantic
models as the TOML file (a bad value is refused with the model's message). On start the stored values are
applied over the file's (``netwarden serve``; the CLI commands read the file only).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select

from netwarden.respond.settings import RespondSettings
from netwarden.store.database import Database
from netwarden.store.schema_web import setting_changes

log = logging.getLogger(__name__)

# what can be changed live, with what the page says about it
EDITABLE = {
    "respond.threshold": "confidence (0–1) an alert needs for an automatic block",
    "respond.auto_block": "block automatically (off: every block waits for a person)",
    "respond.mode": "dry-run records blocks only; enforce changes the firewall",
    "respond.never_block": "addresses and networks never blocked, one a line",
    "respond.durations": "block lengths, one per escalation step (10m, 1h, 1d ...)",
}
HISTORY = 50


class SettingError(ValueError):
    """A refused change; the message says what is wrong (a 400)."""


@dataclass
class Stored:
    value: Any
    by: str
    when: datetime


def stored(db: Database) -> dict[str, Stored]:
    """The newest change of each key that still overrides the file (value not NULL)."""
    newest = select(func.max(setting_changes.c.id)).group_by(setting_changes.c.key)
    with db.engine.connect() as conn:
        rows = conn.execute(select(setting_changes).where(setting_changes.c.id.in_(newest))).all()
    return {r.key: Stored(json.loads(r.value), r.changed_by, r.changed) for r in rows if r.value is not None}


def history(db: Database, limit: int = HISTORY) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(setting_changes).order_by(setting_changes.c.id.desc()).limit(limit)).all()
    return [{"key": r.key, "old": _loads(r.old), "value": _loads(r.value), "changed_by": r.changed_by,
             "changed": r.changed, "reset": r.value is None} for r in rows]


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _effective(file_respond: RespondSettings, overrides: dict[str, Any]) -> RespondSettings:
    data = file_respond.model_dump()
    for key, value in overrides.items():
        data[key.split(".", 1)[1]] = value
    try:
        return RespondSettings.model_validate(data)
    except ValidationError as exc:
        problems = [f"respond.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise SettingError("; ".join(problems)) from None


def change(db: Database, file_respond: RespondSettings, updates: dict[str, Any], by: str) -> RespondSettings:
    """Validate and store ``updates`` (``None``: back to the file's value); the settings now in force."""
    unknown = [k for k in updates if k not in EDITABLE]
    if unknown:
        raise SettingError(f"not editable in the web app: {', '.join(sorted(unknown))}")
    current = {k: s.value for k, s in stored(db).items()}
    overrides = dict(current)
    for key, value in updates.items():
        if value is None:
            overrides.pop(key, None)
        else:
            overrides[key] = value
    new = _effective(file_respond, overrides)
    before = _effective(file_respond, current)
    now = datetime.now(timezone.utc)
    rows = []
    for key in updates:
        name = key.split(".", 1)[1]
        old, value = getattr(before, name), getattr(new, name)
        if old == value and (key in current) == (key in overrides):
            continue
        rows.append({"key": key, "old": json.dumps(old), "changed_by": by[:64], "changed": now,
                     "value": json.dumps(value) if key in overrides else None})
    if rows:
        with db.engine.begin() as conn:
            conn.execute(insert(setting_changes), rows)
    return new


def apply(app: Any, respond: RespondSettings) -> None:
    """Put ``respond`` in force: the shared settings and every running responder."""
    app.state.settings.respond = respond
    runtime = app.state.runtime
    for responder in _responders(runtime):
        responder.reconfigure(respond)


def _responders(runtime: Any) -> list[Any]:
    found = []
    response = getattr(runtime.pipeline, "response", None)
    if response is not None:
        found.append(response.responder)
    if runtime.extras.get("responder") is not None:
        found.append(runtime.extras["responder"])
    return found


def load_at_start(app: Any) -> None:
    """Remember the file's values, then apply the stored changes over them."""
    settings = app.state.settings
    app.state.file_respond = settings.respond.model_copy(deep=True)
    try:
        overrides = {k: s.value for k, s in stored(app.state.db).items()}
        if overrides:
            apply(app, _effective(app.state.file_respond, overrides))
    except SettingError as exc:  # the file changed under a stored value: the file wins, said in the log
        log.warning("settings changed in the web app no longer validate, the file's apply: %s", exc)
    except Exception as exc:  # a database without the table yet
        log.warning("settings changed in the web app could not be read: %s", exc)


def view(app: Any) -> dict[str, Any]:
    """Each editable value in force, where it comes from (file or web app, by whom, when), and the trail."""
    db = app.state.db
    overrides = stored(db)
    current = app.state.settings.respond
    file_respond = app.state.file_respond
    values = []
    for key, about in EDITABLE.items():
        name = key.split(".", 1)[1]
        s = overrides.get(key)
        values.append({"key": key, "about": about, "value": getattr(current, name),
                       "file_value": getattr(file_respond, name), "origin": "web app" if s else "file",
                       "changed_by": s.by if s else None, "changed": s.when if s else None})
    return {"values": values, "by_key": {v["key"]: v for v in values}, "history": history(db)}
