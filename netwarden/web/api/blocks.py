"""``/api/v1/blocks``: the record of blocks (reason, time, expiry, state), block an address or an alert's
source, unblock. Viewers read; analysts and admins change. The never-block list applies as everywhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from netwarden.durations import parse_duration
from netwarden.networks import AddressError
from netwarden.respond.refusals import BlockRefused, LongerBlockKept, WideBlockNeedsForce
from netwarden.respond.responder import Responder
from netwarden.store import alerts as alert_store
from netwarden.store.blocks import BLOCK_COLUMNS, Block, BlockState, every_block, get_block, page_of_blocks
from netwarden.store.database import Database
from netwarden.store.keyset import CursorError
from netwarden.web.auth import Principal, require
from netwarden.web.deps import RowId, get_db
from netwarden.web.runtime import Runtime
from netwarden.web.export import EXPORT_RESPONSES, Export, export_request

router = APIRouter(tags=["blocks"])


def responder_of(request: Request) -> Responder:
    """The running pipeline's responder (``netwarden serve``), or the web app's own."""
    runtime: Runtime = request.app.state.runtime
    return runtime.manual_responder()


class NewBlock(BaseModel):
    address: str | None = Field(None, max_length=64, description="address or network; or give alert_id")
    alert_id: int | None = Field(None, ge=1, le=2**63 - 1, description="block this alert's source")
    duration: str | None = Field(None, max_length=16, description="10m, 1h, 1d; default: the escalation steps")
    permanent: bool = False
    reason: str = Field("", max_length=2000)
    force: bool = Field(False, description="confirm a network wider than /24 (IPv4) or /48 (IPv6)")


class NeedsConfirmation(HTTPException):
    """409: a network this wide is blocked only when the request confirms it (``force``); ``question`` is
    what the web page asks."""

    def __init__(self, question: str) -> None:
        super().__init__(409, f'{question} (send "force": true)')
        self.question = question


def _length(text: str | None) -> timedelta | None:
    if not text:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise HTTPException(400, f"duration: {exc}") from None


def create_block(request: Request, db: Database, new: NewBlock, who: Principal) -> dict[str, Any]:
    """Shared by the API and the page: decide, record, apply; HTTP errors with the reason."""
    if (new.address is None) == (new.alert_id is None):
        raise HTTPException(400, "give an address or an alert_id (one of them)")
    if new.permanent and new.duration:
        raise HTTPException(400, "duration and permanent exclude each other")
    length = _length(new.duration)
    address, reason = new.address, new.reason
    if new.alert_id is not None:
        with db.engine.connect() as conn:
            alert = alert_store.get_alert(conn, new.alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert with id {new.alert_id}")
        if not alert.source:
            raise HTTPException(400, f"alert #{alert.id} has no source address")
        address = alert.source
        reason = reason or f"manual block from {alert.kind} alert #{alert.id} (confidence {alert.confidence:.2f})"
    responder = responder_of(request)
    try:
        block = responder.block(address or "", reason=reason or "manual block", by=who.name,
                                alert_id=new.alert_id, duration=length, permanent=new.permanent, force=new.force)
    except AddressError as exc:
        raise HTTPException(400, str(exc)) from None
    except WideBlockNeedsForce as exc:
        raise NeedsConfirmation(str(exc)) from None
    except LongerBlockKept as exc:  # the address stays blocked, for longer: said, not an error
        return {**exc.kept[0].to_dict(), "kept": True, "message": str(exc)}
    except BlockRefused as exc:
        raise HTTPException(409, str(exc)) from None
    responder.flush(15)
    with db.engine.connect() as conn:
        stored = get_block(conn, block.id) if block.id is not None else None
    return (stored or block).to_dict()


@router.get("/blocks", responses=EXPORT_RESPONSES)
def blocks_list(state: str | None = Query(None, pattern="^(active|expired|removed|failed|refused|all)$",
                                          description="default: active"),
                address: str | None = Query(None, max_length=64, description="blocks covering or inside this"),
                limit: int = Query(100, ge=1, le=1000),
                cursor: str | None = Query(None, max_length=200, description="the next_cursor of the previous page"),
                db: Database = Depends(get_db), export: Export = Depends(export_request),
                who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Blocks, newest first: network, reason, alert, who, when, expiry, state; follow ``next_cursor``
    (``format=csv|jsonl``: all of them as a download)."""
    wanted = None if state == "all" else (state or "active")
    if export.fmt:
        if address:
            paged_blocks(db, state=wanted, address=address, limit=1)  # a bad address is a 400 before the download
        found = every_block(db.engine.connect, state=wanted, address=address)
        return export.response("blocks", BLOCK_COLUMNS, (b.to_dict() for b in found))  # type: ignore[return-value]
    rows, following = paged_blocks(db, state=wanted, address=address, limit=limit, cursor=cursor)
    return {"blocks": [b.to_dict() for b in rows], "next_cursor": following}


def paged_blocks(db: Database, **how: Any) -> tuple[list[Block], str | None]:
    """:func:`page_of_blocks`; a bad address or a cursor this server did not give out is a 400."""
    try:
        with db.engine.connect() as conn:
            return page_of_blocks(conn, **how)
    except CursorError as exc:
        raise HTTPException(400, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(400, f"address: {exc}") from None


@router.get("/blocks/{block_id}")
def blocks_one(block_id: RowId, db: Database = Depends(get_db),
               who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with db.engine.connect() as conn:
        block = get_block(conn, block_id)
    if block is None:
        raise HTTPException(404, f"no block with id {block_id}")
    return block.to_dict()


@router.post("/blocks", status_code=201)
def blocks_add(request: Request, new: NewBlock = Body(...), db: Database = Depends(get_db),
               who: Principal = Depends(require("analyst"))) -> dict[str, Any]:
    """Block an address or network, or an alert's source. 409 when the never-block list (or an existing
    wider block) refuses it, or when a network wider than /24 or /48 comes without ``force``. 200 with
    ``kept: true`` and a ``message`` when a longer active block stays instead."""
    result = create_block(request, db, new, who)
    return JSONResponse(result) if result.get("kept") else result  # type: ignore[return-value]


@router.delete("/blocks/{block_id}")
def blocks_remove(request: Request, block_id: RowId, db: Database = Depends(get_db),
                  who: Principal = Depends(require("analyst"))) -> dict[str, Any]:
    """Unblock: end an active block now."""
    ended = responder_of(request).unblock(block_id, by=who.name)
    if not ended:
        with db.engine.connect() as conn:
            block = get_block(conn, block_id)
        if block is None:
            raise HTTPException(404, f"no block with id {block_id}")
        raise HTTPException(409, f"block #{block_id} is not active ({block.state})")
    responder_of(request).flush(15)
    return {**ended[0].to_dict(), "state": str(BlockState.REMOVED)}
