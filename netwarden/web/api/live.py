"""Live updates: ``/api/v1/live`` (WebSocket) and ``/api/v1/live/poll`` (long polling, the fallback)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect

from netwarden.web.auth import Principal, require, websocket_principal

router = APIRouter(tags=["live"])
POLICY_VIOLATION = 1008


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
        while not receiver.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await websocket.send_json(getter.result())
            else:
                getter.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.unsubscribe(queue)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the browser sends, so that a disconnect is noticed at once."""
    try:
        while True:
            await websocket.receive_text()
    except (WebSocketDisconnect, RuntimeError):
        return
