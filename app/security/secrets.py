"""High-entropy secrets: generate, store as a SHA-256 digest, compare in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def generate_secret(nbytes: int = 32) -> str:
    """A URL-safe random string carrying nbytes of entropy."""
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """SHA-256 hex digest: random secrets need no slow KDF, only irreversibility."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def matches(secret: str, stored_digest: str | None) -> bool:
    if not stored_digest:
        return False
    return hmac.compare_digest(digest(secret), stored_digest)


def generate_code(digits: int) -> str:
    """A uniformly random decimal code of exactly `digits` digits (leading zeros kept), for a person to type."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def keyed_digest(secret: str, key: str) -> str:
    """HMAC-SHA256 hex: for low-entropy secrets (short codes), which a plain digest would not protect offline."""
    return hmac.new(key.encode(), secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
