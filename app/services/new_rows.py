"""New rows of several tables written in one database round trip.

A use case that adds one row to each of a few tables pays one round trip per INSERT when the session flushes
them. On PostgreSQL the rows go out as one statement instead: the last row's INSERT, with the others as
data-modifying WITH clauses, which PostgreSQL runs exactly once although nothing refers to them. Other
databases (SQLite cannot put an INSERT in a WITH clause) take them through the session, as before.

For rows nobody reads back in the same transaction: they never enter the session, so their generated keys
stay unknown to it.
"""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import ColumnElement, Executable, Table, bindparam, insert, inspect

from app.extensions import Model, db


def insert_together(*rows: Model) -> None:
    """Write `rows` (new model instances) in the caller's transaction: one statement on PostgreSQL."""
    if db.engine.dialect.name != "postgresql":
        db.session.add_all(rows)
        return
    models = tuple(type(row) for row in rows)
    parameters = {f"{n}_{key}": _value(row, key, column)
                  for n, row in enumerate(rows) for key, column in _written_columns(type(row))}
    # The session's connection, not its execute(): the ORM's bulk-insert path would build the statement anew (and
    # its cache key) on every call.
    db.session.connection().execute(_statement(models), parameters)


@functools.cache
def _statement(models: tuple[type[Model], ...]) -> Executable:
    """One statement for one row of each of `models`, built once: building it costs more than running it."""
    *earlier, last = (insert(model).values({key: bindparam(f"{n}_{key}") for key, _ in _written_columns(model)})
                      for n, model in enumerate(models))
    return last.add_cte(*(statement.cte(f"row_{n}") for n, statement in enumerate(earlier)))


@functools.cache
def _written_columns(model: type[Model]) -> tuple[tuple[str, ColumnElement[Any]], ...]:
    """Every mapped column, by attribute name, but a generated key."""
    generated = cast(Table, model.__table__).autoincrement_column
    return tuple((attribute.key, attribute.columns[0]) for attribute in inspect(model).column_attrs
                 if attribute.columns[0] is not generated)


def _value(row: Model, key: str, column: ColumnElement[Any]) -> Any:
    """The value a flush writes: the attribute's, or when it is None the column's Python-side default (computed
    here: SQLAlchemy 2.0 computes those for only one INSERT of a statement)."""
    value = getattr(row, key)
    default = column.default
    if value is None and default is not None and not default.is_sequence:
        value = default.arg(None) if default.is_callable else default.arg  # type: ignore[attr-defined]
    return value
