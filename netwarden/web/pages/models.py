"""The Models page: trained models side by side, training from an uploaded labelled file with progress,
confusion matrices and ROC curves, activation. The page's script talks to ``/api/v1/models``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from netwarden.learn.base import algorithms
from netwarden.web.api.models import max_upload, registry_of, summary
from netwarden.web.auth import Principal, require
from netwarden.web.render import NavEntry, render

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Models", "/models", order=45)


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, who: Principal = Depends(require("viewer"))) -> Response:
    known = algorithms()
    return render(request, "models.html", {
        "models": [summary(r) for r in registry_of(request).list()],
        "algorithms": [{"name": n, "family": c.family, "description": c.description, "unavailable": c.unavailable(),
                        "params": ", ".join(f"{k}={v}" for k, v in c.default_params.items())}
                       for n, c in known.items()],
        "can_train": who.can("analyst"), "can_delete": who.can("admin"),
        "max_upload_mib": max_upload(request.app.state.settings) // 2**20})
