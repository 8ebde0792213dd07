"""When the client cache (client_cache.py) may answer, and how every process hears that it must forget.

Writes: every statement that changes a client, an API key, what an account or a key's owner lends its tokens
(enabled, roles, scopes) or the revocation ledger (an access token's revoked_at) clears this process's cache at once, again when its transaction ends, and on PostgreSQL sends NOTIFY in the same
transaction, so that every listening process clears its own when (and only if) the change commits.

Reads, PostgreSQL: each process keeps one connection that LISTENs. The cache answers only while that connection
is known to hear: every HEARTBEAT_SECONDS it notifies itself on a channel of its own, and each echo received
extends trust to TRUST_SECONDS past the moment it was sent. When the connection breaks the cache is emptied; when
echoes stop (a silent network, a pooler that drops LISTEN) trust lapses; either way the cache is bypassed until
echoes come back, and emptied then, so a lost notification can never be served from memory. SQLite: `PRAGMA data_version` on the request's own
connection tells whether anyone else has committed since that connection last looked; if so, the cache is emptied.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
from typing import Any

import psycopg
from flask import Flask
from sqlalchemy import Engine, event

from app.extensions import db
from app.services.client_cache import RegistrationCache

log = logging.getLogger(__name__)

CHANNEL = "ostiary_registrations"
HEARTBEAT_SECONDS = 0.25
TRUST_SECONDS = 1.0
RECONNECT_MAX_SECONDS = 2.0
_DATA_VERSION = "ostiary.client_cache.data_version"

# Tables whose rows the cache copies, and for an UPDATE the columns that matter (None: any). A plain INSERT never
# matters: a look-up that found nothing was not remembered, and a new access token's jti is born unrevoked. An
# upsert's DO UPDATE is an UPDATE (revoking an access token that has no row yet inserts one already revoked).
WATCHED: dict[str, frozenset[str] | None] = {
    "clients": None,
    "api_keys": None,
    "users": frozenset({"is_active", "roles", "scope", "sub"}),
    "access_tokens": frozenset({"revoked_at"}),
}
# An API key's last-use time is written once a minute per key and never read from the cache.
IGNORED: dict[str, frozenset[str]] = {"api_keys": frozenset({"last_used_at"})}
DML = re.compile(r'\s*(?:(UPDATE)|DELETE\s+FROM|(INSERT)\s+INTO)\s+"?(\w+)"?', re.IGNORECASE)
UPSERT = re.compile(r"\bON\s+CONFLICT\b.*?\bDO\s+UPDATE\b", re.IGNORECASE | re.DOTALL)
SET_CLAUSE = re.compile(r"\bSET\s+(.*?)(?:\s+WHERE\b|\s+RETURNING\b|$)", re.IGNORECASE | re.DOTALL)
ASSIGNED = re.compile(r'"?(\w+)"?\s*=')


def changes_registrations(sql: str) -> bool:
    """Whether a statement may change what the cache holds (an UPDATE, upsert or DELETE of a watched row)."""
    matched = DML.match(sql)
    if matched is None or matched.group(3).lower() not in WATCHED:
        return False
    table = matched.group(3).lower()
    if matched.group(2):
        upsert = UPSERT.search(sql)
        if upsert is None:
            return False  # a plain INSERT
        sql = sql[upsert.end():]
    elif not matched.group(1):
        return True  # DELETE
    set_clause = SET_CLAUSE.search(sql)
    assigned = set(ASSIGNED.findall(set_clause.group(1))) if set_clause else set()
    columns = assigned - IGNORED.get(table, frozenset())
    watched = WATCHED[table]
    return bool(columns) if watched is None else not columns.isdisjoint(watched)


class _Writes:
    """This thread has written something the cache holds, in a transaction that has not ended yet."""

    def __init__(self, cache: RegistrationCache) -> None:
        self.cache = cache
        self.local = threading.local()

    def after_cursor_execute(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not changes_registrations(statement):
            return
        self.local.pending = True
        self.cache.clear()
        if conn.dialect.name == "postgresql":
            # Transactional: delivered to every listener when this transaction commits, never if it rolls back.
            cursor.connection.execute("SELECT pg_notify(%s, '')", (CHANNEL,))

    def transaction_ended(self, *_: Any) -> None:
        """Engine commit (before the database's) and rollback, session after_commit: forget again, since a copy
        loaded in between may have read this transaction's uncommitted rows or the rows it replaced."""
        if getattr(self.local, "pending", False):
            self.cache.clear()

    def transaction_over(self, *_: Any) -> None:
        self.transaction_ended()
        self.local.pending = False


class Listener:
    """One LISTEN connection per process (started in the process that uses the cache, so after a fork)."""

    def __init__(self, cache: RegistrationCache, dsn: str, connect_timeout: int) -> None:
        self.cache = cache
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.trusted_until = 0.0
        self._thread: threading.Thread | None = None
        self._pid = -1
        self._stopped = threading.Event()
        self._starting = threading.Lock()

    def fresh(self) -> bool:
        if self._pid != os.getpid():
            with self._starting:  # the first requests of a worker arrive together: one listener each
                if self._pid != os.getpid():
                    self._start()
        return time.monotonic() < self.trusted_until

    def _start(self) -> None:
        self._pid = os.getpid()
        self.trusted_until = 0.0
        self.cache.distrust()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="client-cache-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = HEARTBEAT_SECONDS
        while not self._stopped.is_set():
            try:
                self._listen()
                delay = HEARTBEAT_SECONDS
            except Exception as error:  # noqa: BLE001 - whatever it was, the listener reconnects and never dies
                log.warning("client cache listener disconnected, cache bypassed: %s", type(error).__name__)
            finally:
                self.trusted_until = 0.0
                self.cache.distrust()
            self._stopped.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def _listen(self) -> None:
        # Its own echo channel: a notification it sends itself and receives proves, end to end, that every
        # notification committed before it was sent has arrived (PostgreSQL delivers them in commit order). A plain
        # round trip would not: through a pooler in transaction mode the LISTEN is lost while queries still work.
        echo = f"ostiary_echo_{secrets.token_hex(8)}"
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=self.connect_timeout, keepalives=1,
                             keepalives_idle=5, keepalives_interval=1, keepalives_count=3,
                             application_name="ostiary-client-cache") as conn:
            conn.execute(f"LISTEN {CHANNEL}; LISTEN {echo}")  # one statement: one server connection, even pooled
            while not self._stopped.is_set():
                sent = time.monotonic()
                conn.execute(f"NOTIFY {echo}")
                # Those that arrive while a statement runs are kept by psycopg for the next notifies().
                for notify in conn.notifies(timeout=HEARTBEAT_SECONDS):
                    if notify.channel != echo:
                        self.cache.clear()
                    elif self.trusted_until <= time.monotonic():
                        self.cache.trust()  # trusted again (or for the first time): forget what it may have missed
                        self.trusted_until = sent + TRUST_SECONDS
                    else:
                        self.trusted_until = sent + TRUST_SECONDS


class DataVersion:
    """SQLite: any commit by another connection (another worker, the CLI) since this connection last looked."""

    def __init__(self, cache: RegistrationCache) -> None:
        self.cache = cache
        cache.trust()

    def fresh(self) -> bool:
        connection = db.session.connection()
        version = connection.exec_driver_sql("PRAGMA data_version").scalar()
        if connection.info.get(_DATA_VERSION) != version:
            # A connection's first look clears too: what changed before it was opened is unknown to it.
            connection.info[_DATA_VERSION] = version
            self.cache.clear()
        return True


def init_app(app: Flask) -> RegistrationCache:
    """The app's cache, wired to its engine: writes clear it, and a listener (or data_version) says when it may answer."""
    cache = RegistrationCache(app.config["CLIENT_CACHE_ENTRIES"])
    app.extensions["ostiary.client_cache"] = cache
    if cache.max_entries <= 0:
        return cache
    with app.app_context():
        engine: Engine = db.engine
    writes = _Writes(cache)
    event.listen(engine, "after_cursor_execute", writes.after_cursor_execute)
    event.listen(engine, "commit", writes.transaction_ended)
    event.listen(engine, "rollback", writes.transaction_over)
    event.listen(db.session, "after_commit", writes.transaction_over)
    if engine.dialect.name == "postgresql":
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        cache.freshness = Listener(cache, dsn, app.config["DATABASE_CONNECT_TIMEOUT_SECONDS"])
    else:
        cache.freshness = DataVersion(cache)
    return cache
