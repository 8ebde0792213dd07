"""Pooled database connections are proven alive before use, unless one was in use a moment ago.

SQLAlchemy's pool_pre_ping costs a round trip on every checkout: on a busy token endpoint one of a refresh
grant's four round trips. A connection given back to the pool within the last half second was talking to the database
then, and asking again tells nothing new (HikariCP skips the same check within its aliveBypassWindowMs, 500 ms).
A connection idle for longer is pinged, as before. One that dies inside the window fails its statement, which
SQLAlchemy recognises as a disconnect: that request gets the readable 503, and the pool replaces every
connection it held from before the failure.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from sqlalchemy import Engine, event, exc

ALIVE_BYPASS_SECONDS = 0.5
_RETURNED_AT = "ostiary.returned_at"


def install(engine: Engine) -> None:
    """Check liveness on checkout for `engine`'s pool (instead of pool_pre_ping)."""
    dialect = engine.dialect

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is not None and monotonic() - returned_at < ALIVE_BYPASS_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError from error  # the pool discards it and connects afresh
            raise

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = monotonic()

    event.listen(engine.pool, "checkout", checkout)
    event.listen(engine.pool, "checkin", checkin)
