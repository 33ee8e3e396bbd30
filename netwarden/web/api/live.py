"""Live updates: ``/api/v1/live`` (WebSocket) and ``/api/v1/live/poll`` (long polling, the fallback)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect

from netwarden.web.auth import SESSION_COOKIE, Principal, require, websocket_principal

router = APIRouter(tags=["live"])
POLICY_VIOLATION = 1008
RECHECK_SECONDS = 15.0  # a socket outlives no session: logout or expiry closes it within this time


@router.get("/live/poll")
async def poll(request: Request, after: int = Query(0, ge=0, le=2**62), timeout: float = Query(20, ge=0, le=30),
               who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Messages newer than ``after`` (waits up to ``timeout`` seconds for one). ``seq`` is the newest number."""
    hub = request.app.state.runtime.hub
    messages = await hub.wait(after if after <= hub.seq else 0, timeout)
    return {"seq": hub.seq, "messages": messages}


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    principal = websocket_principal(websocket)
    if principal is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    hub = websocket.app.state.runtime.hub
    await websocket.accept()
    queue = hub.subscribe()
    try:
        try:
            after = int(websocket.query_params.get("after", "0"))
        except ValueError:
            after = 0
        for message in hub.since(after) if after else []:
            await websocket.send_json(message)
        receiver = asyncio.create_task(_drain(websocket))
        loop = asyncio.get_running_loop()
        recheck = loop.time() + RECHECK_SECONDS
        while not receiver.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, timeout=max(0.0, recheck - loop.time()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await websocket.send_json(getter.result())
            else:
                getter.cancel()
            if loop.time() >= recheck:
                recheck = loop.time() + RECHECK_SECONDS
                if not await _still_allowed(websocket, principal):
                    await websocket.close(code=POLICY_VIOLATION)
                    break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.unsubscribe(queue)


async def _still_allowed(websocket: WebSocket, principal: Principal) -> bool:
    from starlette.concurrency import run_in_threadpool

    from netwarden.accounts.sessions import find_session

    cookie = websocket.cookies.get(SESSION_COOKIE)
    if principal.via != "session" or not cookie:
        return False
    session = await run_in_threadpool(find_session, websocket.app.state.db, cookie, websocket.app.state.settings.web)
    return session is not None and session.id == principal.session_id


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the browser sends, so that a disconnect is noticed at once."""
    try:
        while True:
            await websocket.receive_text()
    except (WebSocketDisconnect, RuntimeError):
        return
