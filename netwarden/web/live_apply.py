"""Putting settings changed in the web app in force in the running server (netwarden.web.live_settings
validates and records them): the responder, the detectors (rebuilt with their state carried over), the
notifier's channels, the threat feeds and their download schedule. Keys marked ``restart`` are only noted
("restart needed") until the next start applies them."""

from __future__ import annotations

import logging
from typing import Any

from netwarden.web.live_settings import (EDITABLE, LISTENER_KEYS, SettingError, change, current_value, overlay,
                                        stored_overrides)

log = logging.getLogger(__name__)
INTEL_KEYS = ("intel.feeds", "intel.min_score")


def change_and_apply(app: Any, updates: dict[str, Any], by: str) -> list[str]:
    """Validate, record and put in force; the keys that changed. Raises SettingError (a 400)."""
    built: dict[str, Any] = {}

    def check(new: Any, changed: list[str]) -> None:  # what cannot be built or bound is refused first
        built.update(_build_detectors(app, new, _detectors_touched(changed)))
        listen_on = app.state.runtime.listen_on
        moved = [k for k in changed if k in LISTENER_KEYS]
        if moved and listen_on is not None:
            try:
                listen_on({k.split(".", 1)[1]: getattr(new.web, k.split(".", 1)[1]) for k in moved})
            except Exception as exc:  # ServerError: a port in use; the old addresses listen again
                raise SettingError(f"{', '.join(moved)}: {exc}") from None

    new, changed = change(app.state.db, app.state.runtime.file_settings, updates, by, check)
    apply(app, new, changed, built)
    return changed


def _detectors_touched(keys: list[str]) -> set[str]:
    names = {k.split(".", 1)[1] for k in keys if k.startswith("detect.")}
    if any(k in INTEL_KEYS for k in keys):
        names.add("intel")
    return names


def _build_detectors(app: Any, settings: Any, names: set[str]) -> dict[str, Any]:
    from netwarden.detect.base import SettingsError
    from netwarden.detect.engine import load_detectors
    from netwarden.enrich.assets import Assets
    from netwarden.pipeline import detect_config

    available, config = load_detectors(), detect_config(settings)
    engine = app.state.runtime.engine
    assets = engine.detectors[0].assets if engine is not None and engine.detectors else Assets(settings.network.home)
    built = {}
    for name in sorted(names):
        try:
            built[name] = available[name](config.get(name), assets=assets,
                                          keep_events=getattr(engine, "keep_events", False))
        except (SettingsError, ValueError, OSError) as exc:
            raise SettingError(str(exc)) from None
    return built


def _restart(app: Any, key: str) -> bool:
    """Stored now, in force at the next start (the firewall backend; listeners when nothing listens anew)."""
    info = EDITABLE.get(key)
    if key in LISTENER_KEYS:
        return app.state.runtime.listen_on is None
    return info is not None and info.restart


def apply(app: Any, new: Any, changed: list[str], built: dict[str, Any] | None = None) -> None:
    settings, runtime = app.state.settings, app.state.runtime
    pending = runtime.restart_pending
    for key in changed:
        if _restart(app, key):
            running, later = current_value(settings, key), current_value(new, key)
            if running == later:
                pending.pop(key, None)
            else:
                pending[key] = {"running": running, "next": later}
    for section in sorted({k.split(".", 1)[0] for k in changed}):
        if section == "detect":
            settings.detect = new.detect
            continue
        value = getattr(new, section)
        keep = {k.split(".", 1)[1]: getattr(getattr(settings, section), k.split(".", 1)[1])
                for k in EDITABLE if _restart(app, k) and k.startswith(section + ".")}
        setattr(settings, section, value.model_copy(update=keep) if keep else value)
    if any(k.startswith("respond.") for k in changed):
        for responder in responders(runtime):
            responder.reconfigure(settings.respond)
    names = _detectors_touched(changed)
    if names:
        _swap_detectors(app, settings, built if built is not None else _build_detectors(app, settings, names))
    if any(k.startswith("notify.") for k in changed):
        _apply_notify(runtime, settings)
    if any(k.startswith("intel.") for k in changed):
        runtime.feeds.reconfigure(settings.intel)
        runtime.start()


def rebuild_detectors(app: Any, names: set[str]) -> None:
    """Build these detectors again from the settings in force (their rule files changed) and swap them in."""
    _swap_detectors(app, app.state.settings, _build_detectors(app, app.state.settings, names))


def responders(runtime: Any) -> list[Any]:
    return runtime.responders()


def _swap_detectors(app: Any, settings: Any, built: dict[str, Any]) -> None:
    """Replace detectors in the running engine; the old one's state (ongoing scans ...) carries over. The
    list is replaced in one assignment, so a batch being processed sees the old list or the new one."""
    from netwarden.detect.engine import load_detectors

    engine = app.state.runtime.engine
    if engine is None:
        return
    current = {d.name: d for d in engine.detectors}
    for name, detector in built.items():
        old = current.pop(name, None)
        if not detector.settings.enabled:
            continue
        if old is not None:
            try:
                carry = getattr(detector, "carry_over", None)  # in-memory state a restart would lose too
                carry(old) if carry is not None else detector.restore(old.state())
            except Exception as exc:  # state of other settings may not fit: start afresh, say so
                log.warning("detector %s starts afresh after its settings changed: %s", name, exc)
        bind = getattr(detector, "bind", None)
        if bind is not None:
            bind(app.state.db, settings)
        current[name] = detector
    engine.detectors = [current[n] for n in load_detectors() if n in current]


def _apply_notify(runtime: Any, settings: Any) -> None:
    response = getattr(runtime.pipeline, "response", None)
    if response is None:
        return
    if response.notifier is not None:
        response.notifier.reconfigure(settings.notify)
    elif settings.notify.enabled:
        from netwarden.notify.notifier import Notifier

        notifier = Notifier(settings.notify)
        response.responder.listeners.append(notifier.on_block)
        response.notifier = notifier  # Response.on_alerts tells it of the next batch's alerts


def feeds(app: Any) -> Any:
    """This server's download schedule of the URL feeds (netwarden.enrich.feed_fetch)."""
    return app.state.runtime.feeds


def load_at_start(app: Any) -> None:
    """Remember the file's values; when no server overlaid the stored changes before starting (a web app
    built on its own), put them in force now. Starts the URL feeds' schedule."""
    runtime = app.state.runtime
    if runtime.file_settings is None:
        runtime.file_settings = overlay(app.state.db, app.state.settings)
        try:
            keys = list(stored_overrides(app.state.db))
        except Exception:  # a database without the table yet (logged by overlay)
            keys = []
        if keys:
            try:
                apply(app, app.state.settings, keys)
            except SettingError as exc:
                log.warning("settings changed in the web app could not be applied: %s", exc)
    runtime.start()
