"""Human passwords: argon2id with rehash-on-login."""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 256
# argon2 cost does not grow with input size much, but cap bytes against abuse.
MAX_BYTES = 1024


class PasswordPolicyError(ValueError):
    """The password does not meet the policy; the message is safe to show."""


def normalize(password: str) -> str:
    """NIST SP 800-63B §5.1.1.2: Unicode passwords are NFKC-normalised before hashing."""
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str) -> None:
    normalized = normalize(password)
    if len(normalized) < MIN_LENGTH:
        raise PasswordPolicyError(f"password must be at least {MIN_LENGTH} characters")
    if len(normalized) > MAX_LENGTH or len(normalized.encode("utf-8")) > MAX_BYTES:
        raise PasswordPolicyError(f"password must be at most {MAX_LENGTH} characters")


class Passwords:
    """argon2id hasher bound to the configured cost parameters."""

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against for unknown accounts, so both paths cost the same.
        self._dummy_hash = self._hasher.hash("ostiary-dummy-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalize(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        if len(password.encode("utf-8", "surrogatepass")) > MAX_BYTES:
            return False
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, normalize(password)) and bool(stored_hash)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
