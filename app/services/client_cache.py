"""Client registrations, API keys, accounts and the revocation ledger in process memory, dropped on every worker
of every node when one changes.

The token, introspection and revocation endpoints look a client up on every request, and introspection (like
every bearer check) asks whether a token's account is active and whether its jti was revoked; this answers most of
those look-ups without a database round trip. It is correct across processes because every write that could change
an answer clears the cache everywhere (app/services/client_cache_invalidation.py): in this process at once, in the
others through PostgreSQL NOTIFY (or, on SQLite, `PRAGMA data_version`). While a process cannot be sure it would
hear of a change (its listener is not connected), it does not use the cache at all.

What is held: detached copies of rows that exist (a client's secret digest, never a secret), and the jtis known
not to be revoked. A look-up that finds nothing (an unknown id, a revoked jti) is not remembered, so it costs what
it always cost and cannot grow the cache; each kind of entry is bounded on its own (OSTIARY_CLIENT_CACHE_ENTRIES,
least recently used first out), so a busy ledger never pushes a client out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from flask import current_app
from sqlalchemy import inspect

from app.models import ApiKey, Client, User

Row = TypeVar("Row", Client, ApiKey, User, bool)


def detached_copy(row: Row) -> Row:
    """A transient copy of a loaded row (an API key with a copy of its owner): no session, no lazy loads, safe to
    share between threads as long as nobody writes to it. A plain value is its own copy."""
    if isinstance(row, bool):
        return row
    copy = _columns_of(row)
    if isinstance(row, ApiKey) and isinstance(copy, ApiKey):
        copy.owner = _columns_of(row.owner)
    return copy


def _columns_of(row: Any) -> Any:
    return type(row)(**{a.key: _copied(getattr(row, a.key)) for a in inspect(type(row)).column_attrs})


def _copied(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


class Freshness(Protocol):
    def fresh(self) -> bool:
        """Whether this process would by now have heard of every committed change (and has cleared for it)."""
        ...


class RegistrationCache:
    """A bounded LRU of detached rows per kind, keyed by id, with a generation that every clear advances."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, OrderedDict[str, Any]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        #: Whether this process would hear of a change now; the cache is bypassed while it would not.
        self.trusted = False
        #: Asked before every answer from memory (client_cache_invalidation: a listener, or SQLite's data_version).
        self.freshness: Freshness | None = None

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries.values())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def distrust(self) -> None:
        """Stop answering from memory (and forget everything) until trust() is called again."""
        with self._lock:
            self.trusted = False
            self._entries.clear()
            self._generation += 1

    def trust(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1
            self.trusted = True

    def get(self, kind: str, key: str, load: Callable[[str], Row | None]) -> Row | None:
        """The cached copy, else load(key) copied and remembered if it found a row and nothing changed meanwhile."""
        if self.max_entries <= 0 or self.freshness is None or not self.freshness.fresh() or not self.trusted:
            return load(key)
        with self._lock:
            entries = self._entries.get(kind)
            found = entries.get(key) if entries is not None else None
            if entries is not None and found is not None:
                entries.move_to_end(key)
                return found
            generation = self._generation
        loaded = load(key)
        if loaded is None:
            return None  # a miss is never remembered: unknown ids cannot grow the cache or evict good entries
        copy = detached_copy(loaded)
        with self._lock:
            # A clear since the load began means the row may have changed after it was read: do not keep it.
            if generation == self._generation and self.trusted:
                entries = self._entries.setdefault(kind, OrderedDict())
                entries[key] = copy
                while len(entries) > self.max_entries:
                    entries.popitem(last=False)
        return copy


def cached(kind: str, key: str, load: Callable[[str], Row | None]) -> Row | None:
    """load(key) through the app's cache: a detached copy of the row, or None (never remembered)."""
    cache: RegistrationCache | None = current_app.extensions.get("ostiary.client_cache")
    return cache.get(kind, key, load) if cache is not None else load(key)
