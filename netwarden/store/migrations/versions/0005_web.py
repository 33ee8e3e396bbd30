"""Users, sessions, API tokens, failed logins.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

import sqlalchemy as sa

from netwarden.store.migrations.tables import Id, create_table, drop_tables, id_column
from netwarden.store.schema import UtcDateTime

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    create_table(
        "users",
        id_column(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("totp_secret", sa.String(64)),
        sa.Column("must_change", sa.Boolean, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("last_login", UtcDateTime),
        unique=[("name",)],
    )
    create_table(
        "sessions",
        id_column(),
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
    )
    create_table(
        "api_tokens",
        id_column(),
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
    )
    create_table(
        "login_failures",
        id_column(),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("address", sa.String(45), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        indexes=[("user_name", "at"), ("address", "at")],
    )


def downgrade() -> None:
    drop_tables("login_failures", "api_tokens", "sessions", "users")
