"""Alerts raised from old events (an import of last year's logs) are marked: shown, never acted on."""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("history", sa.Boolean))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("history")
