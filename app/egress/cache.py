"""A bounded cache of fetched JSON documents (client metadata, discovery, JWKS), failures kept briefly."""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from app.egress.client import DEFAULT_MAX_DEPTH, JSON_TYPES, Egress, json_object
from app.egress.errors import EgressError
from app.egress.transport import Limits


def freshness_seconds(headers: Mapping[str, str], *, default: float, maximum: float) -> float:
    """RFC 9111 §4.2.1 and §5.2.2: max-age less Age, none for no-store/no-cache, never above `maximum`."""
    max_age: float | None = None
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in {"no-store", "no-cache"}:
            return 0
        if name == "max-age":
            value = value.strip().strip('"')
            if not value.isdigit() or max_age is not None:
                return 0  # §4.2.1: an invalid or repeated max-age makes the response stale
            max_age = int(value)
    if max_age is None:
        return min(default, maximum)
    age = headers.get("age", "0").strip()
    return max(0, min(max_age - (int(age) if age.isdigit() else 0), maximum))


@dataclass
class _Entry:
    fetched_at: float
    expires_at: float
    document: dict[str, Any] | None = None
    failure: EgressError | None = None


class DocumentCache:
    """At most `max_entries` URLs (least recently used leave first), each for its freshness within bounds."""

    def __init__(
        self,
        egress: Egress,
        *,
        max_entries: int = 256,
        max_age_seconds: float = 3600,
        default_age_seconds: float = 300,
        failure_seconds: float = 15,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.egress = egress
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        self.default_age_seconds = default_age_seconds
        self.failure_seconds = failure_seconds
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def fetch_json(
        self,
        url: str,
        *,
        refresh_if_older_than: float | None = None,
        content_types: Collection[str] = JSON_TYPES,
        limits: Limits | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> dict[str, Any]:
        """The cached object, else a fresh fetch; a recent failure is raised again without a request.

        `refresh_if_older_than` bounds how often a caller may force a fetch of a fresh entry (a JWKS that lacks a
        `kid`): at most once per that many seconds, whatever the requests that ask.
        """
        now = self._clock()
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None and now < entry.expires_at:
                stale_for_caller = refresh_if_older_than is not None and now - entry.fetched_at >= refresh_if_older_than
                if entry.failure is not None or not stale_for_caller:
                    self._entries.move_to_end(url)
                    return self._answer(entry)
        try:
            fetched = self.egress.fetch(url, content_types=content_types, limits=limits)
            document = json_object(fetched.content, max_depth=max_depth)
        except EgressError as exc:
            self._store(url, _Entry(now, now + self.failure_seconds, failure=exc))
            raise
        lifetime = freshness_seconds(fetched.headers, default=self.default_age_seconds, maximum=self.max_age_seconds)
        if lifetime > 0:
            self._store(url, _Entry(now, now + lifetime, document=document))
        else:
            with self._lock:
                self._entries.pop(url, None)
        return copy.deepcopy(document)

    def _store(self, url: str, entry: _Entry) -> None:
        with self._lock:
            self._entries[url] = entry
            self._entries.move_to_end(url)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    @staticmethod
    def _answer(entry: _Entry) -> dict[str, Any]:
        if entry.failure is not None:
            # A copy, so concurrent raises of one cached failure do not share (and grow) one traceback.
            raise copy.copy(entry.failure).with_traceback(None)
        assert entry.document is not None
        return copy.deepcopy(entry.document)  # callers may change what they get; the cache's copy stays intact
