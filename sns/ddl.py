"""Migration steps that may run twice: each looks at the database before changing it.

MySQL commits every DDL statement on its own, so a start-up killed half-way through a
migration leaves some tables made and the version not stamped. The next start runs the
same migration again; these steps skip what is already there and make what is missing.
On SQLite a migration is one transaction, so there the checks simply find nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def create_table(name: str, *items: Any, **options: Any) -> None:
    """``op.create_table`` unless the table exists (MySQL makes a table in one statement)."""
    if not _inspector().has_table(name):
        op.create_table(name, *items, **options)


def create_index(name: str, table: str, columns: list[str], *, unique: bool = False) -> None:
    if name not in {index["name"] for index in _inspector().get_indexes(table)}:
        op.create_index(name, table, columns, unique=unique)


def add_column(table: str, column: sa.Column[Any]) -> None:
    if column.name not in {existing["name"] for existing in _inspector().get_columns(table)}:
        op.add_column(table, column)
