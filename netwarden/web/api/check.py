"""``POST /api/v1/check``: the verdict on one connection or one pasted log line, with its reasons.

Nothing is stored: the detectors run on a throwaway engine. Analysts and admins only (a viewer reads).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from netwarden.check import CheckError, check_event, event_from_connection, event_from_line, registry_scorer
from netwarden.store.checks import CheckRecord, checks_of, remember_check
from netwarden.store.database import Database
from netwarden.web.auth import Principal, require
from netwarden.web.deps import fast_json, get_db, get_settings

router = APIRouter(tags=["check"])
HISTORY_KEPT = 200


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    src_ip: str = Field(..., max_length=64, description="source address")
    dst_ip: str = Field(..., max_length=64, description="destination address")
    protocol: str = Field("tcp", max_length=8, description="tcp, udp, icmp or icmpv6")
    src_port: int | None = Field(None, ge=0, le=65535)
    dst_port: int | None = Field(None, ge=0, le=65535)
    packet_size: int | None = Field(None, ge=0, le=65535, description="bytes of one packet")
    bytes_out: int | None = Field(None, ge=0, le=1 << 50, description="bytes sent by the source")
    bytes_in: int | None = Field(None, ge=0, le=1 << 50, description="bytes received by the source")
    tcp_flags: str | None = Field(None, max_length=64, description='e.g. "SYN", "SYN,ACK", "FPU", "NULL"')


class CheckIn(BaseModel):
    """Either ``connection`` or ``line`` (with an optional ``format``; sniffed when absent)."""

    model_config = ConfigDict(extra="forbid")

    connection: ConnectionIn | None = None
    line: str | None = Field(None, max_length=65536)
    format: str = Field("auto", max_length=32)


@router.post("/check")
def check(body: CheckIn, db: Database = Depends(get_db), settings: Any = Depends(get_settings),
          who: Principal = Depends(require("analyst"))) -> dict[str, Any]:
    """Verdict (malicious, suspicious, no known threat), severity, score and the reasons behind it."""
    if (body.connection is None) == (body.line is None):
        raise HTTPException(400, "give either a connection or a log line")
    try:
        if body.connection is not None:
            c = body.connection
            event = event_from_connection(src_ip=c.src_ip, dst_ip=c.dst_ip, transport=c.protocol,
                                          src_port=c.src_port, dst_port=c.dst_port, packet_size=c.packet_size,
                                          bytes_out=c.bytes_out, bytes_in=c.bytes_in, tcp_flags=c.tcp_flags)
            fmt = None
        else:
            event, fmt = event_from_line(body.line or "", body.format)
    except CheckError as exc:
        raise HTTPException(400, str(exc)) from None
    asked_connection = body.connection.model_dump() if body.connection is not None else None
    verdict = check_event(event, settings, model_scorer=registry_scorer(db, settings, asked_connection),
                          fmt=fmt).to_dict()
    verdict["places"] = _places(settings, event.src_ip, event.dst_ip)
    asked = {"connection": body.connection.model_dump(exclude_none=True)} if body.connection is not None \
        else {"line": body.line, "format": body.format}
    verdict["history_id"] = remember(db, who.name, asked, verdict)
    return verdict


def remember(db: Database, user: str, asked: dict[str, Any], verdict: dict[str, Any]) -> int:
    """Keep the check in the user's history (the newest HISTORY_KEPT per user)."""
    with db.engine.begin() as conn:
        return remember_check(conn, user, asked, verdict["verdict"], verdict["severity"], verdict["score"],
                              HISTORY_KEPT)


def history_of(db: Database, user: str, limit: int = 50) -> list[CheckRecord]:
    with db.engine.connect() as conn:
        return checks_of(conn, user, limit)


@router.get("/check/history")
def check_history_list(limit: int = Query(50, ge=1, le=HISTORY_KEPT), db: Database = Depends(get_db),
                       who: Principal = Depends(require("analyst"))) -> Any:
    """Your own checks, newest first (each user sees only theirs)."""
    return fast_json({"checks": history_of(db, who.name, limit)})


def _places(settings: Any, *addresses: str | None) -> dict[str, Any]:
    """Where the addresses are (context for the analyst); empty when no geolocation database is installed."""
    from netwarden.enrich.geo import GeoError
    from netwarden.web.api.geo import locator

    try:
        geo = locator(settings.web.geo_database, settings.web.vendor_dir)
    except GeoError:
        return {}
    return {a: geo.lookup(a).to_dict() for a in addresses if a}
