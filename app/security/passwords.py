"""Human passwords (NIST SP 800-63B §5.1.1.2): argon2id with rehash-on-login, length rules and a blocklist only."""

from __future__ import annotations

import gzip
import unicodedata
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# NIST's floor; 15 or more is what the README recommends. No composition rules (§5.1.1.2 forbids them).
MIN_LENGTH = 8
MAX_LENGTH = 256
# argon2 cost does not grow with input size much, but cap bytes against abuse.
MAX_BYTES = 1024
# The 20,000 most common passwords, from Django (BSD licence): django/contrib/auth/common-passwords.txt.gz.
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt.gz")


class PasswordPolicyError(ValueError):
    """The password does not meet the policy; the message is safe to show."""


def normalize(password: str) -> str:
    """NIST SP 800-63B §5.1.1.2: Unicode passwords are NFKC-normalised before hashing."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    """Loaded on first use (a few milliseconds, about 2 MB), then kept for the life of the process."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


# What policy_problems() reports, and check_policy()'s message for each (the API's and the CLI's words).
TOO_SHORT, NOT_UNICODE, TOO_LONG, TOO_COMMON = "too_short", "not_unicode", "too_long", "too_common"
PROBLEMS = {
    TOO_SHORT: f"password must be at least {MIN_LENGTH} characters",
    NOT_UNICODE: "password must be valid Unicode text",
    TOO_LONG: f"password must be at most {MAX_LENGTH} characters",
    TOO_COMMON: "this password is too common: choose another one",
}


def policy_problems(password: str) -> list[str]:
    """Every rule the password breaks (TOO_SHORT, NOT_UNICODE, TOO_LONG, TOO_COMMON); empty when it is acceptable."""
    normalized = normalize(password)
    size = _utf8_length(normalized)
    problems = []
    if len(normalized) < MIN_LENGTH:
        problems.append(TOO_SHORT)
    if size is None:
        problems.append(NOT_UNICODE)
    elif len(normalized) > MAX_LENGTH or size > MAX_BYTES:
        problems.append(TOO_LONG)
    # §5.1.1.2: refuse values known to be commonly used; the list is lower case, so "Password1" is caught too.
    if normalized.strip().casefold() in common_passwords():
        problems.append(TOO_COMMON)
    return problems


def check_policy(password: str) -> None:
    problems = policy_problems(password)
    if problems:
        raise PasswordPolicyError(PROBLEMS[problems[0]])


def _utf8_length(text: str) -> int | None:
    """Bytes argon2 would hash, or None for text that is not valid Unicode (a lone surrogate from JSON)."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


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
        length = _utf8_length(password)
        if length is None or length > MAX_BYTES:
            return False  # no stored password is like this, and hashing a huge input would only burn CPU
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, normalize(password)) and bool(stored_hash)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def passwords() -> Passwords:
    """This app's hasher, built once by create_app from the configured costs."""
    return current_app.extensions["ostiary.passwords"]
