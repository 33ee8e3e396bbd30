"""events.duration as DOUBLE on MariaDB/MySQL: FLOAT kept 4 bytes, read back to 6 significant digits (a flow of
86400.25 s came back as 86400.2) and refused durations beyond 3.4e38. SQLite and PostgreSQL already store 8 bytes.
MariaDB rewrites the table to change a column's type: on a large events table this takes minutes, once.

Numbered 0014: 0013 was reserved for another change of the same session; a later 0013 revises this one.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        op.alter_column("events", "duration", type_=mysql.DOUBLE(), existing_type=sa.Float(), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        op.alter_column("events", "duration", type_=sa.Float(), existing_type=mysql.DOUBLE(), existing_nullable=True)
