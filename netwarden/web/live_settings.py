"""Settings an administrator changes in the web app, applied without a restart over the file's values.

Each change is a row of ``setting_changes`` (netwarden.store.setting_changes): who, when, old and new value —
the audit trail; the newest row of a key is its value, ``NULL`` meaning "the file's value again". A change is
validated by the same pydantic models as the TOML file (a bad value is refused with the model's message), then
put in force by netwarden.web.live_apply; a new firewall backend takes over the active blocks at once. The
listeners' addresses wait for the next start (the page says "restart needed") when no server listens anew. ``netwarden serve`` applies
the stored values over the file's before it starts anything (``overlay``); the CLI commands read the file only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from netwarden.store import setting_changes as store
from netwarden.store.database import Database

log = logging.getLogger(__name__)
HISTORY = 50


@dataclass(frozen=True)
class Editable:
    about: str
    restart: bool = False  # stored now, in force after the next start


EDITABLE: dict[str, Editable] = {
    "respond.threshold": Editable("confidence (0–1) an alert needs for an automatic block"),
    "respond.auto_block": Editable("block automatically (off: every block waits for a person)"),
    "respond.mode": Editable("dry-run records blocks only; enforce changes the firewall"),
    "respond.never_block": Editable("addresses and networks never blocked, one a line"),
    "respond.durations": Editable("block lengths, one per escalation step (10m, 1h, 1d ...)"),
    "respond.backend": Editable("the firewall that enforces blocks; on a change the active blocks are taken "
                                "out of the old one and applied to the new one"),
    "intel.feeds": Editable("threat feeds: files or http(s) URLs, one a line"),
    "intel.refresh": Editable("how often feeds given by URL are downloaded again (6h, 1d ...)"),
    "intel.min_score": Editable("entries with a lower score (IPsum: number of lists) are not loaded"),
    "notify.min_severity": Editable("alerts at or above this severity are sent"),
    "notify.smtp": Editable("e-mail: server, security, login, sender, recipients"),
    "notify.webhooks": Editable("webhooks: generic JSON, Slack, Teams"),
    "notify.sms_gateways": Editable("text messages through an HTTP SMS gateway"),
    "notify.gammu": Editable("text messages through a GSM modem driven by gammu"),
    # live under `netwarden serve` (it listens anew); a web app without collectors keeps them for the next start
    "web.syslog_udp": Editable("syslog over UDP: addresses to listen on (HOST:PORT, :5514)"),
    "web.syslog_tcp": Editable("syslog over TCP: addresses to listen on"),
    "web.netflow_udp": Editable("NetFlow/IPFIX over UDP: addresses to listen on"),
}
LISTENER_KEYS = ("web.syslog_udp", "web.syslog_tcp", "web.netflow_udp")
DETECTOR = Editable("the detector's settings (its [detect.NAME] table)")
# the file alone sets these (a web form must not choose a program to run)
FILE_ONLY = {"notify.gammu": ("command",)}
# the intel detector's feed settings come from [intel]: edited there, not in its table
INTEL_FROM_SECTION = ("feeds", "min_score", "flag_private", "reload_every")


# secrets are never sent back to a browser: shown as HIDDEN, and HIDDEN sent back keeps the value in force
HIDDEN = "(hidden)"
SECRET_FIELDS = ("password",)
SECRET_MAPS = ("headers", "params")  # their values may hold tokens and passwords


def redact(value: Any) -> Any:
    if isinstance(value, list):
        return [redact(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if k in SECRET_FIELDS and v:
            out[k] = HIDDEN
        elif k in SECRET_MAPS and isinstance(v, dict):
            out[k] = {name: HIDDEN for name in v}
        else:
            out[k] = redact(v)
    return out


def unredact(value: Any, current: Any) -> Any:
    """``value`` from a browser with HIDDEN where a secret was: the secret in force put back."""
    if value == HIDDEN:
        return current
    if isinstance(value, list):
        old = current if isinstance(current, list) else []
        return [unredact(v, old[i] if i < len(old) else None) for i, v in enumerate(value)]
    if isinstance(value, dict):
        old = current if isinstance(current, dict) else {}
        return {k: unredact(v, old.get(k)) for k, v in value.items()}
    return value


class SettingError(ValueError):
    """A refused change; the message says what is wrong (a 400)."""


def editable(key: str) -> Editable | None:
    if key.startswith("detect."):
        from netwarden.detect.engine import load_detectors

        return DETECTOR if key.split(".", 1)[1] in load_detectors() else None
    return EDITABLE.get(key)


def _problems(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(f"{prefix}{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def effective(file: Any, overrides: dict[str, Any]) -> Any:
    """The file's settings with ``overrides`` (``section.key`` or ``detect.NAME``) applied, validated."""
    from netwarden.config import Settings
    from netwarden.detect.engine import load_detectors
    from netwarden.pipeline import detect_config

    data = file.model_dump(by_alias=True)
    for key, value in overrides.items():
        section, name = key.split(".", 1)
        if section == "detect" and not isinstance(value, dict):
            raise SettingError(f"{key}: a table of the detector's settings is expected")
        data[section][name] = value
    try:
        new = Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingError(_problems(exc)) from None
    new.source = file.source
    config = detect_config(new)
    available = load_detectors()
    for key in overrides:
        if key.startswith("detect."):
            name = key.split(".", 1)[1]
            try:
                available[name].Settings.model_validate(config.get(name, {}))
            except ValidationError as exc:
                raise SettingError(_problems(exc, f"detect.{name}.")) from None
    _check_listeners(new, overrides)
    return new


def _check_listeners(new: Any, overrides: dict[str, Any]) -> None:
    from netwarden.endpoints import parse_address

    for key in LISTENER_KEYS:
        if key in overrides:
            for address in getattr(new.web, key.split(".")[1]):
                try:
                    parse_address(address, 2055 if "netflow" in key else 514)
                except ValueError as exc:
                    raise SettingError(f"{key}: {exc}") from None


def current_value(settings: Any, key: str) -> Any:
    section, name = key.split(".", 1)
    if section == "detect":
        from netwarden.detect.engine import load_detectors
        from netwarden.pipeline import detect_config

        cls = load_detectors()[name]
        try:
            values = cls.Settings.model_validate(detect_config(settings).get(name, {})).model_dump(mode="json")
        except ValidationError:
            values = dict(settings.detect.get(name, {}))
        if name == "intel":
            values = {k: v for k, v in values.items() if k not in INTEL_FROM_SECTION}
        return values
    value = getattr(getattr(settings, section), name)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [v.model_dump(mode="json") if hasattr(v, "model_dump") else v for v in value]
    return value


def change(db: Database, file: Any, updates: dict[str, Any], by: str,
           check: Any = None) -> tuple[Any, list[str]]:
    """Validate and store ``updates`` (``None``: back to the file's value). ``check(new, changed)`` may refuse
    with a SettingError before anything is stored. Returns the settings now stored (file + every override)
    and the keys whose value changed."""
    unknown = sorted(k for k in updates if editable(k) is None)
    if unknown:
        raise SettingError(f"not editable in the web app: {', '.join(unknown)}")
    for key, fields in FILE_ONLY.items():
        value = updates.get(key)
        if isinstance(value, dict):
            in_file = current_value(file, key)
            for name in fields:
                if name in value and value[name] != in_file.get(name):
                    raise SettingError(f"{key}.{name} is set in the configuration file only")
    current = {k: s.value for k, s in store.newest(db).items() if editable(k) is not None}
    before = effective(file, current) if current else file
    updates = {k: unredact(v, current_value(before, k)) for k, v in updates.items()}
    overrides = dict(current)
    for key, value in updates.items():
        if value is None:
            overrides.pop(key, None)
        else:
            overrides[key] = value
    new = effective(file, overrides)
    now = datetime.now(timezone.utc)
    rows, changed = [], []
    for key in updates:
        old, value = current_value(before, key), current_value(new, key)
        if old == value and (key in current) == (key in overrides):
            continue
        changed.append(key)
        rows.append({"key": key, "old": old, "changed_by": by, "changed": now,
                     "value": value if key in overrides else None})
    if check is not None and changed:
        check(new, changed)
    store.record(db, rows)
    return new, changed


def record_event(db: Database, key: str, what: Any, by: str) -> None:
    """An audited action that is not a setting (a Sigma rule imported ...): kept in the same trail."""
    store.record(db, [{"key": key, "old": None, "value": what, "changed_by": by,
                       "changed": datetime.now(timezone.utc)}])


def stored_overrides(db: Database) -> dict[str, Any]:
    return {k: s.value for k, s in store.newest(db).items() if editable(k) is not None}


def overlay(db: Database, settings: Any) -> Any:
    """At start: put the stored values in force over the file's (in place). Returns the file's settings."""
    file = settings.model_copy(deep=True)
    try:
        overrides = stored_overrides(db)
        if overrides:
            new = effective(file, overrides)
            for section in {k.split(".", 1)[0] for k in overrides}:
                setattr(settings, section, getattr(new, section))
    except SettingError as exc:  # the file changed under a stored value: the file wins, said in the log
        log.warning("settings changed in the web app no longer validate, the file's apply: %s", exc)
    except Exception as exc:  # a database without the table yet
        log.warning("settings changed in the web app could not be read: %s", exc)
    return file


def view(app: Any) -> dict[str, Any]:
    """Each editable value in force, where it comes from (file or web app, by whom, when), and the trail."""
    db = app.state.db
    stored = {k: s for k, s in store.newest(db).items() if editable(k) is not None}
    running, file = app.state.settings, app.state.runtime.file_settings
    pending = app.state.runtime.restart_pending
    values = []
    keys = list(EDITABLE) + [f"detect.{n}" for n in _detector_names()]
    for key in keys:
        info = editable(key)
        assert info is not None
        s = stored.get(key)
        value = current_value(running, key)
        if key in pending:
            value = pending[key]["running"]
        values.append({"key": key, "about": info.about, "value": redact(value),
                       "file_value": redact(current_value(file, key)), "origin": "web app" if s else "file",
                       "restart": info.restart or (key in LISTENER_KEYS and not _can_relisten(app)),
                       "restart_needed": key in pending,
                       "next_start": redact(pending.get(key, {}).get("next")),
                       "changed_by": s.by if s else None, "changed": s.when if s else None})
    trail = [{**h, "old": redact(h["old"]), "value": redact(h["value"])} for h in store.history(db, HISTORY)]
    return {"values": values, "by_key": {v["key"]: v for v in values}, "history": trail}


def _can_relisten(app: Any) -> bool:
    return app.state.runtime.listen_on is not None


def _detector_names() -> list[str]:
    from netwarden.detect.engine import load_detectors

    return list(load_detectors())
