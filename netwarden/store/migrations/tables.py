"""What the migrations share: the column types that differ per engine, and the frame of a new table.

A released migration must keep producing the same schema: add here, never change what a migration uses.
The names follow ``schema.NAMING`` (``pk_<table>``, ``uq_<table>_<columns>``, ``fk_<table>_<column>_<target>``,
``ix_<table>_<columns>``), so the migrated schema is exactly ``schema.metadata``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Address = sa.LargeBinary(16).with_variant(mysql.VARBINARY(16), "mysql", "mariadb")
Blob = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


def id_column() -> sa.Column:
    """The surrogate key most tables start with."""
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def create_table(name: str, *columns: sa.Column, primary_key: Sequence[str] = ("id",),
                 unique: Sequence[Sequence[str]] = (), foreign_keys: Mapping[str, tuple[str, str]] | None = None,
                 indexes: Sequence[Sequence[str]] = ()) -> None:
    """A table with its named keys, in utf8mb4 on MariaDB/MySQL, then its indexes. ``foreign_keys`` maps a
    column to the table whose ``id`` it holds and what happens when that row goes (SET NULL, CASCADE)."""
    constraints: list[sa.Constraint] = [sa.PrimaryKeyConstraint(*primary_key, name=f"pk_{name}")]
    constraints += [sa.UniqueConstraint(*cols, name=f"uq_{name}_{'_'.join(cols)}") for cols in unique]
    constraints += [sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                            name=f"fk_{name}_{column}_{target}")
                    for column, (target, ondelete) in (foreign_keys or {}).items()]
    op.create_table(name, *columns, *constraints, mysql_charset="utf8mb4")
    for cols in indexes:
        op.create_index(f"ix_{name}_{'_'.join(cols)}", name, list(cols))


def drop_tables(*names: str) -> None:
    """Drop tables (with their indexes), in the order given: those that point at others first."""
    for name in names:
        op.drop_table(name)
