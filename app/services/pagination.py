"""Keyset pagination for every list of the admin API and CLI: `limit` and an opaque `cursor`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import ValidationError
from app.extensions import db

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# The cursor is the last primary key seen; clients treat it as opaque.
CURSOR = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def check_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not CURSOR.fullmatch(cursor):
        raise ValidationError("cursor is not one this server returned", field="cursor")
    return int(cursor)


def paginate(statement: Select[Any], key: InstrumentedAttribute[int], limit: int, cursor: str | None, *,
             descending: bool = False) -> Page[Any]:
    """Rows after the cursor in key order (or reverse); one row more than asked tells whether a next page exists."""
    limit = check_limit(limit)
    after = check_cursor(cursor)
    if after is not None:
        statement = statement.where(key < after if descending else key > after)
    order = key.desc() if descending else key
    rows = list(db.session.scalars(statement.order_by(order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, str(getattr(rows[-1], key.key)) if more else None)
