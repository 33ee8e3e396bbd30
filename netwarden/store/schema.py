"""The tables, one schema for SQLite, MariaDB/MySQL and PostgreSQL.

Changing a table means changing it here AND adding an Alembic migration in ``migrations/versions``;
``tests/store/test_migrations.py`` fails when the two disagree.

Addresses are stored twice: as text for display, and as 16 bytes (IPv4 as IPv4-mapped IPv6) so that a
network filter (``10.0.0.0/8``) is an index range scan on every engine, since bytes compare in order.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects import mysql

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; stored naive in UTC (portable everywhere)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):  # type: ignore[no-untyped-def]
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))  # microseconds, not whole seconds
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        return value.replace(tzinfo=timezone.utc) if value is not None else None


# MySQL's TEXT holds 64 KiB of bytes; raw lines and URLs may be longer, so use MEDIUMTEXT there
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
# SQLite only auto-increments an INTEGER PRIMARY KEY
Id = BigInteger().with_variant(Integer(), "sqlite")
Address = LargeBinary(16).with_variant(mysql.VARBINARY(16), "mysql", "mariadb")
# MySQL's FLOAT has 4 bytes (6 significant digits read back); 8 everywhere, read as float, not Decimal
Seconds = Float().with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")

ingest_sources = Table(
    "ingest_sources", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # file, syslog, netflow ...
    Column("name", Text, nullable=False),  # path or listener, as last seen
    Column("format", String(32), nullable=False),
    # a file is recognised by content, not name: the hash of its first line finds candidates,
    # the hash of everything read so far proves it is the same stream (so a rotated copy is too)
    Column("first_line_sha", String(64), nullable=False),
    Column("prefix_sha", String(64), nullable=False),
    Column("offset", BigInteger, nullable=False, default=0),  # bytes of the (decompressed) stream consumed
    Column("lines", BigInteger, nullable=False, default=0),
    # a file import stores a batch's events while detection looks at them; its position (offset, lines) follows
    # once detection is done. The lines whose events are stored so far (None: as far as the position): a rerun
    # after an interruption detects the lines in between again and stores none of them twice
    Column("stored_lines", BigInteger, nullable=True),
    Column("events", BigInteger, nullable=False, default=0),
    Column("quarantined", BigInteger, nullable=False, default=0),
    Column("complete", Boolean, nullable=False, default=False),
    Column("started", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Index(None, "first_line_sha"),
)

events = Table(
    "events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("source_kind", String(16), nullable=False),
    Column("observer", String(255)),
    Column("src_ip", String(45)),
    Column("src_addr", Address),
    Column("src_port", Integer),
    Column("dst_ip", String(45)),
    Column("dst_addr", Address),
    Column("dst_port", Integer),
    Column("transport", String(16)),
    Column("app_protocol", String(32)),
    Column("bytes_out", BigInteger),
    Column("bytes_in", BigInteger),
    Column("packets_out", BigInteger),
    Column("packets_in", BigInteger),
    Column("duration", Seconds),
    Column("tcp_flags", String(64)),
    Column("action", String(32)),
    Column("http_method", String(32)),
    Column("url", LongText),
    Column("http_status", SmallInteger),
    Column("user_agent", Text),
    Column("user", String(256)),
    Column("outcome", String(16)),
    Column("message", LongText),
    Column("raw", LongText),
    Column("label", String(128)),
    Column("extra", JSON),
    Column("source_id", Id),
    Column("line_no", BigInteger),
    # Not on PostgreSQL (migration 0015): there its check ran a look-up per row, a third of the server's COPY;
    # the writer checks and locks the batch's sources once (store/bulk.py), and a trigger on ingest_sources
    # does the ON DELETE SET NULL
    ForeignKeyConstraint(["source_id"], ["ingest_sources.id"], ondelete="SET NULL")
    .ddl_if(dialect=("sqlite", "mysql", "mariadb")),
    Index(None, "timestamp"),
    Index(None, "src_addr", "timestamp"),
    # Partial where the engine can (SQLite, PostgreSQL): access and auth logs have no destination, and
    # indexing their NULLs cost the writer an eighth of its time; `dst_addr BETWEEN ..` still uses them
    Index(None, "dst_addr", "timestamp", sqlite_where=text("dst_addr IS NOT NULL"),
          postgresql_where=text("dst_addr IS NOT NULL")),
    Index(None, "dst_port", "timestamp", sqlite_where=text("dst_port IS NOT NULL"),
          postgresql_where=text("dst_port IS NOT NULL")),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received", UtcDateTime, nullable=False),
    Column("source_id", ForeignKey("ingest_sources.id", ondelete="SET NULL")),
    Column("source", Text, nullable=False),
    Column("format", String(32), nullable=False),
    Column("line_no", BigInteger),
    Column("reason", String(32), nullable=False),
    Column("detail", String(512), nullable=False),
    Column("raw", LongText, nullable=False),
    Column("raw_length", BigInteger, nullable=False),  # the original length, when raw was cut
    Index(None, "received"),
    Index(None, "reason"),
)

# Per-minute traffic counters that dashboards read instead of raw events; kept by retention.
# Absent values are '' and -1 (not NULL) so that the primary key can identify every bucket.
rollups = Table(
    "rollups", metadata,
    Column("minute", UtcDateTime, primary_key=True),
    Column("source_kind", String(16), primary_key=True),
    Column("transport", String(16), primary_key=True),
    Column("dst_port", Integer, primary_key=True),
    Column("events", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
)

# -- detection ---------------------------------------------------------------------------------

incidents = Table(
    "incidents", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("kinds", JSON, nullable=False),  # the alert kinds seen, in order of first appearance
    Column("alert_count", Integer, nullable=False),
    Column("summary", Text, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Index(None, "source", "last_seen"),
)

alerts = Table(
    "alerts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("subkind", String(64), nullable=False),  # Suricata categories run long
    Column("severity", String(16), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("factors", JSON, nullable=False),
    Column("source", String(64)),
    Column("source_addr", Address),
    Column("target", String(255)),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("recommendation", Text, nullable=False),
    Column("detector", String(32), nullable=False),
    Column("signature", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("incident_id", ForeignKey("incidents.id", ondelete="SET NULL")),
    Column("model_version", String(64)),
    Column("created", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Column("history", Boolean),  # raised from old events (true), not acted on; NULL in rows from before 0007
    Index(None, "last_seen"),
    Index(None, "source_addr", "last_seen"),
    Index(None, "status", "last_seen"),
    Index(None, "kind", "source"),
)

# "not this pattern from this source again": written when an alert is marked a false positive
suppressions = Table(
    "suppressions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("source", String(64), nullable=False),  # "*" for any source
    Column("signature", String(255), nullable=False),  # "" for any pattern of that kind
    Column("alert_id", ForeignKey("alerts.id", ondelete="SET NULL")),
    Column("note", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Index(None, "kind", "source"),
)

# detectors' sliding windows, saved so that a restart does not forget an ongoing scan
detector_state = Table(
    "detector_state", metadata,
    Column("name", String(64), primary_key=True),
    Column("state", LongText, nullable=False),
    Column("saved", UtcDateTime, nullable=False),
)

TEXT_LIMITS = {"observer": 255, "tcp_flags": 64, "action": 32, "http_method": 32, "user": 256,
               "outcome": 16, "label": 128, "transport": 16, "app_protocol": 32, "source_kind": 16}
SMALLINT_MAX = 32767
__all__ = ["metadata", "events", "quarantine", "rollups", "ingest_sources", "alerts", "incidents",
           "suppressions", "detector_state", "TEXT_LIMITS", "SmallInteger"]


# Tables of later stages, each in its own module (they import metadata from here, hence at the end)
from netwarden.store import schema_bus, schema_learn, schema_report, schema_respond, schema_web  # noqa: E402,F401
