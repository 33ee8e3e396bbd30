"""What the migrations share: the column types that differ per engine, and the frame of a migration that adds
tables.

A released migration must keep producing the same schema: add here, never change what a migration uses.
The names follow ``schema.NAMING`` (``pk_<table>``, ``uq_<table>_<columns>``, ``fk_<table>_<column>_<target>``,
``ix_<table>_<columns>``), so the migrated schema is exactly ``schema.metadata``.

A migration that adds tables declares them once, and its upgrade and downgrade come from that declaration::

    upgrade, downgrade = new_tables(
        NewTable("models", sa.Column("name", sa.String(64), nullable=False), ..., indexes=[("name",)]),
    )
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Address = sa.LargeBinary(16).with_variant(mysql.VARBINARY(16), "mysql", "mariadb")
Blob = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")

SURROGATE = ("id",)


class NewTable:
    """A table a migration creates: its columns, keys and indexes. A table keyed by the surrogate ``id`` (the
    default ``primary_key``) gets that column first; ``foreign_keys`` maps a column to the table whose ``id`` it
    holds and what happens when that row goes (SET NULL, CASCADE)."""

    def __init__(self, name: str, *columns: sa.Column, primary_key: Sequence[str] = SURROGATE,
                 unique: Sequence[Sequence[str]] = (), foreign_keys: Mapping[str, tuple[str, str]] | None = None,
                 indexes: Sequence[Sequence[str]] = ()) -> None:
        self.name = name
        self.columns = ((sa.Column("id", Id, primary_key=True, autoincrement=True),) if primary_key == SURROGATE
                        else ()) + columns
        self.primary_key = tuple(primary_key)
        self.unique = [tuple(cols) for cols in unique]
        self.foreign_keys = dict(foreign_keys or {})
        self.indexes = [tuple(cols) for cols in indexes]

    def create(self) -> None:
        """The table with its named keys, in utf8mb4 on MariaDB/MySQL, then its indexes."""
        name = self.name
        constraints: list[sa.Constraint] = [sa.PrimaryKeyConstraint(*self.primary_key, name=f"pk_{name}")]
        constraints += [sa.UniqueConstraint(*cols, name=f"uq_{name}_{'_'.join(cols)}") for cols in self.unique]
        constraints += [sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                                name=f"fk_{name}_{column}_{target}")
                        for column, (target, ondelete) in self.foreign_keys.items()]
        # copies: a Column belongs to the one Table made from it, and a downgrade then upgrade makes another
        op.create_table(name, *(column._copy() for column in self.columns), *constraints, mysql_charset="utf8mb4")
        for cols in self.indexes:
            op.create_index(f"ix_{name}_{'_'.join(cols)}", name, list(cols))


def new_tables(*tables: NewTable) -> tuple[Callable[[], None], Callable[[], None]]:
    """The upgrade and downgrade of a migration that adds these tables: create them in the order given (a table
    after those it points at), drop them in the reverse order."""

    def upgrade() -> None:
        for table in tables:
            table.create()

    def downgrade() -> None:
        for table in reversed(tables):
            op.drop_table(table.name)

    return upgrade, downgrade
