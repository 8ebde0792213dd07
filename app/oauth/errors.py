"""Every OAuth error Ostiary defines; Authlib's classes cover the rest. Each renders as RFC 6749 §5.2 JSON."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the resource is malformed, unknown, or not one this client may use."""

    error = "invalid_target"
    description = "the resource is not one this client may request"
    status_code = 400


class UnsupportedTokenTypeError(OAuth2Error):
    """RFC 7009 §2.2.1, answered as an RFC 6749 §5.2 error (Authlib's class is a 401 resource error)."""

    error = "unsupported_token_type"
    description = "token_type_hint must be access_token or refresh_token"
    status_code = 400


class SlowDownError(OAuth2Error):
    """RFC 6585 §4: 429 with Retry-After, in the RFC 6749 §5.2 error shape."""

    error = "slow_down"
    description = "too many failed client authentications, retry later"
    status_code = 429

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__()
        self.retry_after_seconds = retry_after_seconds

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after_seconds))]


def client_safe(description: str) -> str:
    """RFC 6749 §5.2: error_description is printable ASCII without '"' and '\\' (Authlib refuses anything else)."""
    return "".join(c for c in description if 0x20 <= ord(c) <= 0x7E and c not in '"\\')


class TemporarilyUnavailableError(OAuth2Error):
    """RFC 6749 §4.1.2.1: the server cannot handle the request now (an upstream identity provider is down)."""

    error = "temporarily_unavailable"
    description = "the sign-in provider is not available, retry later"
    status_code = 503
