"""Brute-force limits (OWASP ASVS V2.2.1, NIST SP 800-63B §5.2.2): every attempt is counted before its check.

Counting first is what makes the limit hold under concurrency: of 50 simultaneous wrong attempts, the atomic
increment hands out at most `limit` slots, so at most `limit` secrets are ever compared. A slot is given back
when its credential proves good, so the counters hold failures (plus attempts still being checked) only.
Counters live in a `limits` storage: Redis when OSTIARY_REDIS_URL is set, so every node shares them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from flask import Flask, current_app
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string

log = logging.getLogger(__name__)

KEY_PREFIX = "ostiary"
# After the shared storage fails, this node counts on its own for this long before trying it again.
STORAGE_RETRY_SECONDS = 5
STORAGE_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class Counter:
    """One fixed window of failures for one subject, e.g. the sign-ins of one account."""

    name: str
    subject: str
    limit: int
    window_seconds: int

    @property
    def key(self) -> str:
        # A digest, so no login or client_id is written to Redis in clear.
        return f"{KEY_PREFIX}:{self.name}:{hashlib.sha256(self.subject.encode('utf-8', 'surrogatepass')).hexdigest()}"


class Throttled(Exception):
    """A counter is exhausted: refuse without checking the credential."""

    def __init__(self, counter: str, retry_after_seconds: int) -> None:
        super().__init__(counter)
        self.counter = counter
        self.retry_after_seconds = retry_after_seconds


class Attempt:
    """The slots one attempt holds while its credential is checked; given back on leaving unless it failed."""

    def __init__(self, throttle: Throttle, counters: list[Counter], last_slot: list[Counter]) -> None:
        self._throttle = throttle
        self._counters = counters
        self._last_slot = last_slot
        self._failed = False

    def fail(self) -> list[str]:
        """Keep the slots taken; returns the counters this failure exhausted (a lockout starts now)."""
        self._failed = True
        return [counter.name for counter in self._last_slot]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._failed:
            self._throttle.refund(self._counters)  # a good credential is no failure


class Throttle:
    def __init__(self, shared: Storage) -> None:
        self._shared = shared
        self._fallback = MemoryStorage()
        self._shared_down_until = 0.0

    def attempt(self, counters: Sequence[Counter]) -> Attempt:
        """Take one slot on every counter, or raise Throttled (holding none) if any is exhausted."""
        taken: list[Counter] = []
        exhausted: list[Counter] = []
        last_slot: list[Counter] = []
        for counter in counters:
            count = self._incr(counter, 1)
            taken.append(counter)
            if count > counter.limit:
                exhausted.append(counter)
            elif count == counter.limit:
                last_slot.append(counter)
        if exhausted:
            self.refund(taken)  # a refused attempt is never checked, so it is no failure either
            raise Throttled(exhausted[0].name, max(self._seconds_left(c) for c in exhausted))
        return Attempt(self, taken, last_slot)

    def count_failure(self, counter: Counter) -> bool:
        """Count a failure found after its check: True if it exhausted the counter, Throttled if it already was.

        Only for unguessable secrets, where counting first protects nothing: concurrent failures may all be
        checked before the limit applies, and a success costs no round trip to the storage.
        """
        count = self._incr(counter, 1)
        if count > counter.limit:
            raise Throttled(counter.name, self._seconds_left(counter))
        return count == counter.limit

    def refund(self, counters: Sequence[Counter]) -> None:
        for counter in counters:
            if self._incr(counter, -1) < 0:
                self._incr(counter, 1)  # the window ended meanwhile: start the new one at zero, not below

    def clear(self, counters: Sequence[Counter]) -> int:
        """Forget these counters now (an operator lifting a lockout); returns the most any of them held. Both
        storages: this node may have counted alone while the shared one was down."""
        held = 0
        for storage in (self._shared, self._fallback):
            for counter in counters:
                try:
                    held = max(held, storage.get(counter.key))
                    storage.clear(counter.key)
                except StorageError as exc:
                    raise ConnectionError(f"rate-limit storage unavailable ({type(exc.storage_error).__name__})") \
                        from None
        return held

    def reset(self) -> None:
        """Forget every counter (tests)."""
        self._shared.reset()
        self._fallback.reset()

    def _storage(self) -> Storage:
        return self._fallback if time.monotonic() < self._shared_down_until else self._shared

    def _incr(self, counter: Counter, amount: int) -> int:
        storage = self._storage()
        try:
            return storage.incr(counter.key, counter.window_seconds, amount=amount)
        except StorageError as exc:
            # Failing closed would lock everyone out while Redis is down; this node keeps limiting on its own.
            self._shared_down_until = time.monotonic() + STORAGE_RETRY_SECONDS
            log.error("rate-limit storage unavailable (%s): counting on this node alone", type(exc.storage_error).__name__)
            return self._fallback.incr(counter.key, counter.window_seconds, amount=amount)

    def _seconds_left(self, counter: Counter) -> int:
        try:
            expiry = self._storage().get_expiry(counter.key)
        except StorageError:
            return counter.window_seconds
        return max(1, min(counter.window_seconds, math.ceil(expiry - time.time())))


def network_of(address: str | None) -> str:
    """The client's address; for IPv6 its /64, which one host usually owns whole."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def sign_in_counters(login: str, address: str | None, *, sub: str | None = None) -> list[Counter]:
    """Per account (sign_in_account_counter) and per client address."""
    config = current_app.config
    return [
        sign_in_account_counter(login, sub=sub),
        Counter("sign_in_ip", network_of(address), config["SIGN_IN_FAILURES_PER_IP"], config["SIGN_IN_LOCKOUT_SECONDS"]),
    ]


def sign_in_account_counter(login: str = "", *, sub: str | None = None) -> Counter:
    """The account is its sub when the login names one, so its email and its username share one count; else the
    login as users.find_by_login normalises it."""
    config = current_app.config
    # Prefixed: a login typed as someone's sub (sub values are public) must not count against that account.
    account = f"sub:{sub}" if sub is not None else f"login:{login.strip().lower()}"
    return Counter("sign_in_account", account, config["SIGN_IN_FAILURES_PER_ACCOUNT"], config["SIGN_IN_LOCKOUT_SECONDS"])


def mail_request_counters(form: str, address: str, ip: str | None) -> list[Counter]:
    """Requests of a form that sends mail (sign-up, verification, password reset, email change), per address and
    per client address, counted whether or not the address has an account."""
    config = current_app.config
    window = config["MAIL_REQUESTS_WINDOW_SECONDS"]
    return [Counter(f"{form}_address", address, config["MAIL_REQUESTS_PER_ADDRESS"], window),
            Counter(f"{form}_ip", network_of(ip), config["MAIL_REQUESTS_PER_IP"], window)]


def passkey_challenge_counter(ip: str | None) -> Counter:
    """Passwordless passkey challenges per client address, per minute (a challenge names nobody, so per address)."""
    return Counter("passkey_challenge_ip", network_of(ip), current_app.config["PASSKEY_CHALLENGES_PER_IP"], 60)


def count_request(counters: Sequence[Counter]) -> None:
    """Every request counts (none is refunded): raises Throttled once any counter is exhausted."""
    throttle().attempt(counters).fail()


def client_auth_counter(address: str | None) -> Counter:
    """Failed client authentications per client address; none per client_id, which anyone may present."""
    config = current_app.config
    return Counter("client_auth_ip", network_of(address), config["CLIENT_AUTH_FAILURES_PER_IP"],
                   config["CLIENT_AUTH_LOCKOUT_SECONDS"])


def throttle() -> Throttle:
    return current_app.extensions["ostiary.throttle"]


def init_app(app: Flask) -> None:
    """One storage per app (tests build several apps). The `limits` storage alone: the counters are taken where a
    credential is checked, so no hook runs on every request."""
    redis_url = app.config["REDIS_URL"]
    options: dict[str, str | int | float | bool] = {"wrap_exceptions": True}
    if redis_url:
        options.update(socket_timeout=STORAGE_TIMEOUT_SECONDS, socket_connect_timeout=STORAGE_TIMEOUT_SECONDS)
    storage = storage_from_string(redis_url or "memory://", **options)
    if not isinstance(storage, Storage):  # the URI schemes above are synchronous ones
        raise TypeError(f"rate-limit storage {type(storage).__name__} is not synchronous")
    app.extensions["ostiary.throttle"] = Throttle(storage)
