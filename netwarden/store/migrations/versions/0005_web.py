"""Users, sessions, API tokens, failed logins."""

import sqlalchemy as sa

from netwarden.store.migrations.tables import Id, NewTable, new_tables
from netwarden.store.schema import UtcDateTime

revision = "0005"
down_revision = "0004"

upgrade, downgrade = new_tables(
    NewTable("users",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("totp_secret", sa.String(64)),
        sa.Column("must_change", sa.Boolean, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("last_login", UtcDateTime),
        unique=[("name",)],
    ),
    NewTable("sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("second_factor_pending", sa.Boolean, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.Column("expires", UtcDateTime, nullable=False),
        sa.Column("address", sa.String(45)),
        unique=[("token_hash",)],
        foreign_keys={"user_id": ("users", "CASCADE")},
        indexes=[("user_id",), ("expires",)],
    ),
    NewTable("api_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("last_used", UtcDateTime),
        sa.Column("expires", UtcDateTime),
        unique=[("token_hash",)],
        foreign_keys={"user_id": ("users", "CASCADE")},
        indexes=[("user_id",)],
    ),
    NewTable("login_failures",
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("address", sa.String(45), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        indexes=[("user_name", "at"), ("address", "at")],
    ),
)
