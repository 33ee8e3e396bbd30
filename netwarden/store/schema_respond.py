"""Blocking tables (netwarden.respond).

Imported at the end of netwarden.store.schema, so these tables are part of ``metadata``; a change here needs
its Alembic migration too.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, SmallInteger, String, Table, Text

from netwarden.store.schema import Address, Id, UtcDateTime, metadata

# One row per blocking decision, kept after it ends: the record of who blocked what, why and until when.
# ``addr_lo``/``addr_hi`` are the first and last address keys (netwarden.store.addresses) of the network,
# so "which block covers this address" is an index range scan on every engine.
blocks = Table(
    "blocks", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("network", String(64), nullable=False),  # 203.0.113.7 or 2001:db8:1:2::/64
    Column("addr_lo", Address, nullable=False),
    Column("addr_hi", Address, nullable=False),
    Column("reason", Text, nullable=False),
    Column("alert_id", ForeignKey("alerts.id", ondelete="SET NULL")),
    Column("backend", String(32), nullable=False),
    Column("mode", String(16), nullable=False),  # enforce or dry-run (recorded, firewall untouched)
    Column("created_by", String(64), nullable=False),  # "auto" or the user
    Column("created", UtcDateTime, nullable=False),
    Column("expires", UtcDateTime),  # NULL: permanent
    Column("level", SmallInteger, nullable=False),  # escalation step (0: first block of this offender)
    Column("state", String(16), nullable=False),  # active, expired, removed, failed
    Column("ended", UtcDateTime),
    Column("ended_by", String(64)),
    Column("detail", Text, nullable=False),  # the backend's error for a failed block, or a note
    Index(None, "state", "expires"),
    Index(None, "addr_lo", "created"),
    Index(None, "created"),
)

__all__ = ["blocks"]
