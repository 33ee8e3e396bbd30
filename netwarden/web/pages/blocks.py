"""The Blocked addresses page: active (or all) blocks with reason, time and expiry; block and unblock."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netwarden.web.api.blocks import NeedsConfirmation, NewBlock, create_block, paged_blocks, responder_of
from netwarden.web.auth import Principal, require
from netwarden.web.deps import RowId
from netwarden.web.render import NavEntry, render

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Blocked", "/blocks", order=35)
PAGE = 100


STATES = "^(active|expired|removed|failed|refused|all)$"


def _page(request: Request, who: Principal, state: str, *, error: str = "", form: dict | None = None,
          confirm: str = "", notice: str = "", status_code: int = 200, cursor: str | None = None) -> Response:
    rows, next_cursor = paged_blocks(request.app.state.db, state=None if state == "all" else state, limit=PAGE,
                                    cursor=cursor)
    respond = request.app.state.settings.respond
    return render(request, "blocks.html", {
        "blocks": rows, "state": state, "can_change": who.can("analyst"), "error": error, "form": form or {},
        "first_page": not cursor, "next_cursor": next_cursor,
        "confirm": confirm, "notice": notice,
        "mode": respond.mode, "backend": respond.backend}, status_code=status_code)


@router.get("/blocks", response_class=HTMLResponse)
def blocks_page(request: Request, state: str = Query("active", pattern=STATES),
                alert: int | None = Query(None, ge=1, le=2**63 - 1), cursor: str | None = Query(None, max_length=200),
                who: Principal = Depends(require("viewer"))) -> Response:
    return _page(request, who, state, form={"alert_id": alert} if alert else None, cursor=cursor)


@router.post("/blocks")
def blocks_add(request: Request, address: str = Form("", max_length=64), alert_id: str = Form("", max_length=20),
               duration: str = Form("", max_length=16), permanent: str = Form(""),
               reason: str = Form("", max_length=2000), force: str = Form(""),
               who: Principal = Depends(require("analyst"))) -> Response:
    form = {"address": address, "alert_id": alert_id, "duration": duration, "reason": reason,
            "permanent": permanent}
    try:
        if alert_id.strip() and not alert_id.strip().isdigit():
            raise HTTPException(400, "alert: a number")
        new = NewBlock(address=address.strip() or None, alert_id=int(alert_id) if alert_id.strip() else None,
                       duration=duration.strip() or None, permanent=bool(permanent), reason=reason,
                       force=bool(force))
        result = create_block(request, request.app.state.db, new, who)
    except NeedsConfirmation as exc:  # a wide network: the same form again, with a confirmation to press
        return _page(request, who, "active", confirm=exc.question, form=form,
                     status_code=409)
    except HTTPException as exc:
        return _page(request, who, "active", error=str(exc.detail), form=form, status_code=exc.status_code)
    if result.get("kept"):
        return _page(request, who, "active", notice=result["message"])
    return RedirectResponse("/blocks", status_code=303)


@router.post("/blocks/{block_id}/remove")
def blocks_remove(request: Request, block_id: RowId, who: Principal = Depends(require("analyst"))) -> Response:
    responder = responder_of(request)
    if not responder.unblock(block_id, by=who.name):
        raise HTTPException(404, f"no active block with id {block_id}")
    responder.flush(15)
    return RedirectResponse("/blocks", status_code=303)
