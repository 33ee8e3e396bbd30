"""ingest_sources.stored_lines: how far a file import stored events ahead of its position (the position follows
once detection has seen them; netwarden.pipeline.files). Nullable, so instant on every engine."""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ingest_sources", sa.Column("stored_lines", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("ingest_sources", "stored_lines")
