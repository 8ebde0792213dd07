"""URI rules shared by the admin API's validators and the protocol layer: pure functions, importing nothing of ours."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_RESOURCE_LENGTH = 500


def resource_identifier_problem(identifier: str) -> str | None:
    """RFC 8707 §2: why `identifier` is not an absolute URI without a fragment, or None when it is one."""
    if not 0 < len(identifier) <= MAX_RESOURCE_LENGTH or any(ord(c) < 33 or ord(c) > 126 for c in identifier):
        return f"a resource identifier is an absolute URI of at most {MAX_RESOURCE_LENGTH} characters"
    try:
        parts = urlsplit(identifier)
    except ValueError:
        return "a resource identifier is an absolute URI"
    if not parts.scheme or "#" in identifier or not (parts.netloc or parts.path):
        return "a resource identifier is an absolute URI without a fragment"
    return None


def is_resource_identifier(identifier: str) -> bool:
    """RFC 8707 §2: an absolute URI without a fragment."""
    return resource_identifier_problem(identifier) is None
