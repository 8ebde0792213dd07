"""One use case, one commit: the public service function that owns a use case wraps it in transaction().

A few writes are deliberately a transaction of their own, committed whatever follows: a purge batch (so a purge
of any size never holds its locks for long), an outbox claim (so no other worker takes a message while it is
sent) and the API-key last-used touch (so it neither waits for nor rides on the token request it serves). They
use separate_transaction(), which says so at the call site and refuses to run inside a use case.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Executable

from app.extensions import db

_DEPTH = "ostiary.transaction_depth"


@contextmanager
def transaction() -> Iterator[None]:
    """Commit when the outermost block succeeds, roll back when it raises; an inner block joins the outer one,
    so a use case built from other use cases still commits once."""
    info = db.session.info
    depth = info.get(_DEPTH, 0)
    info[_DEPTH] = depth + 1
    try:
        yield
        if depth == 0:
            db.session.commit()
    except BaseException:
        if depth == 0:
            db.session.rollback()
        raise
    finally:
        info[_DEPTH] = depth


@contextmanager
def separate_transaction() -> Iterator[None]:
    """A transaction of its own, committed at the end of the block. Refused inside a use case's transaction():
    the session has one transaction, and committing here would commit the caller's unfinished work with it."""
    if db.session.info.get(_DEPTH, 0):
        raise RuntimeError("a separate transaction cannot run inside a use case's transaction")
    with transaction():
        yield


def rows_changed(statement: Executable) -> int:
    """Run an UPDATE or DELETE in the current transaction; the number of rows it changed."""
    return cast(CursorResult[Any], db.session.execute(statement)).rowcount
