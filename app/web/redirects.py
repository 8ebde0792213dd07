"""Same-origin redirect targets only: no open redirect through `next`."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path, or the default. Refuses //host, /\\host, schemes and control characters."""
    if not target or len(target) > 16384 or not target.startswith("/"):
        return default
    if target.startswith(("//", "/\\")) or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
