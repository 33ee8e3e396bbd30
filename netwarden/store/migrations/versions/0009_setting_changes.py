"""Settings changed in the web app, with their audit trail."""

import sqlalchemy as sa

from netwarden.store.migrations.tables import NewTable, new_tables
from netwarden.store.schema import UtcDateTime

revision = "0009"
down_revision = "0008"

upgrade, downgrade = new_tables(
    NewTable("setting_changes",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("old", sa.Text),
        sa.Column("value", sa.Text),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed", UtcDateTime, nullable=False),
        indexes=[("key", "id")],
    ),
)
