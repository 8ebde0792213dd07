"""One use case, one commit: the public service function that owns a use case wraps it in transaction()."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
