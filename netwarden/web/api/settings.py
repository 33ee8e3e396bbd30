"""``/api/v1/settings`` (admins): listeners, intel feeds, detectors and their thresholds, as running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from netwarden.web.auth import Principal, require
from netwarden.web.deps import fast_json, get_runtime
from netwarden.web.runtime import Runtime

router = APIRouter(tags=["settings"])


def settings_view(runtime: Runtime) -> dict[str, Any]:
    settings = runtime.settings
    listeners = []
    for info in runtime.listeners:
        status = info.status() if callable(info.status) else None
        listeners.append({"kind": info.kind, "address": info.address, "status": status})
    feeds = []
    for feed in settings.intel.feeds:
        path = Path(feed)
        feeds.append({"path": feed, "exists": path.is_file(),
                      "bytes": path.stat().st_size if path.is_file() else None})
    detectors = []
    engine = runtime.engine
    if engine is not None:
        for d in engine.detectors:
            detectors.append({"name": d.name, "settings": d.settings.model_dump(mode="json")})
    else:
        from netwarden.detect.engine import load_detectors

        for name, cls in load_detectors().items():
            try:
                detector = cls(settings.detect.get(name))
                detectors.append({"name": name, "settings": detector.settings.model_dump(mode="json")})
            except Exception as exc:  # a wrong [detect.x] setting is shown, not a crash
                detectors.append({"name": name, "settings": {}, "error": str(exc)})
    return {"config_file": settings.source, "database": runtime.db.url_for_display,
            "web": settings.web.model_dump(mode="json"), "network_home": settings.network.home,
            "listeners": listeners, "intel": {"feeds": feeds, "min_score": settings.intel.min_score},
            "detectors": detectors}


@router.get("/settings")
def settings(runtime: Runtime = Depends(get_runtime), who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """What is configured and running. Edit the configuration file (``config_file``) and restart to change it."""
    return settings_view(runtime)


class LiveChange(BaseModel):
    changes: dict[str, Any] = Field(description='e.g. {"respond.threshold": 0.9}; null: back to the file\'s value')


def change_live(request: Request, changes: dict[str, Any], who: Principal) -> dict[str, Any]:
    from netwarden.web.live_apply import change_and_apply
    from netwarden.web.live_settings import SettingError, view

    try:
        change_and_apply(request.app, changes, who.name)
    except SettingError as exc:
        raise HTTPException(400, str(exc)) from None
    return view(request.app)


@router.get("/settings/live")
def live_settings(request: Request, who: Principal = Depends(require("admin"))) -> Any:
    """The settings editable in the web app: value in force, the file's value, where it comes from, whether a
    restart is needed, and the trail of changes."""
    from netwarden.web.live_settings import view

    return fast_json(view(request.app))


@router.put("/settings/live")
def put_live_settings(request: Request, body: LiveChange = Body(...), who: Principal = Depends(require("admin"))) -> Any:
    """Change settings now, without a restart (validated like the file; each change is recorded)."""
    return fast_json(change_live(request, body.changes, who))


class ChannelTest(BaseModel):
    # any registered channel kind (netwarden.notify.channels.CHANNELS); an unknown one is a 404
    channel: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}(:[0-9]{1,3})?$",
                         description="smtp, gammu, webhook:N or sms:N (N counts from 0 in the list)")


@router.post("/settings/notify/test")
def notify_test(request: Request, body: ChannelTest = Body(...), who: Principal = Depends(require("admin"))) -> Any:
    """Send a test message through one channel as configured now; ``ok`` false with the error when it fails."""
    from netwarden.notify.test_message import ChannelMissing, send_test

    try:
        return send_test(request.app.state.settings.notify, body.channel, who.name)
    except ChannelMissing as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/settings/feeds")
def feeds_status(request: Request, who: Principal = Depends(require("admin"))) -> Any:
    """Each feed given by URL: its local copy, last update, last attempt and last error."""
    from netwarden.enrich.feed_fetch import status
    from netwarden.web.live_apply import feeds

    intel = request.app.state.settings.intel
    return {"refresh": intel.refresh, "feeds": [status(u, intel.cache_dir) for u in feeds(request.app).urls]}


@router.post("/settings/feeds/refresh")
def feeds_refresh(request: Request, who: Principal = Depends(require("admin"))) -> Any:
    """Download every feed given by URL now (a failure keeps the last copy and is reported)."""
    from netwarden.web.live_apply import feeds

    refresher = feeds(request.app)
    if not refresher.urls:
        raise HTTPException(409, "no feed is given by URL (intel.feeds)")
    return {"feeds": refresher.refresh()}
