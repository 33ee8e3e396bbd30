"""Alert subkinds up to 64 characters: a Suricata category such as "Attempted Administrator Privilege Gain"
(38 characters as a slug) was stored cut short.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("subkind", existing_type=sa.String(32), type_=sa.String(64), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("subkind", existing_type=sa.String(64), type_=sa.String(32), existing_nullable=False)
