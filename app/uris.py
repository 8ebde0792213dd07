"""URI rules shared by the admin API's validators and the protocol layer: pure functions, importing nothing of ours."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_RESOURCE_LENGTH = 500
# The longest client_id a code, token, consent or audit row names: a Client ID Metadata Document URL.
CLIENT_ID_LENGTH = 255
# RFC 8252 §7.3: an http redirect URI on a loopback IP literal; `localhost` is not one (§8.3).
LOOPBACK_REDIRECT = re.compile(r"http://(127\.0\.0\.1|\[::1\])(?::([0-9]{1,5}))?([/?].*)?", re.DOTALL)


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


def loopback_without_port(uri: str) -> str | None:
    """RFC 8252 §7.3: a loopback IP redirect URI with its port taken out, or None for any other URI."""
    match = LOOPBACK_REDIRECT.fullmatch(uri)
    if match is None or (match.group(2) is not None and not 0 < int(match.group(2)) < 65536):
        return None
    return f"http://{match.group(1)}{match.group(3) or ''}"


def redirect_uri_matches(registered: list[str], presented: str) -> bool:
    """RFC 9700 §2.1: exact string comparison; RFC 8252 §7.3: any port on a registered loopback IP literal."""
    if presented in registered:
        return True
    loopback = loopback_without_port(presented)
    return loopback is not None and any(loopback_without_port(uri) == loopback for uri in registered)
