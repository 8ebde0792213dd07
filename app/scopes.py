"""Scope vocabulary (RFC 6749 §3.3, OpenID Connect Core §5.4)."""

from __future__ import annotations

import re

STANDARD_SCOPES = ("openid", "profile", "email", "offline_access")

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")

# Plain words for the consent page.
SCOPE_DESCRIPTIONS = {
    "openid": "Sign you in and know who you are",
    "profile": "See your name and username",
    "email": "See your email address",
    "offline_access": "Stay connected when you are not using it",
}


def is_valid_scope_token(token: str) -> bool:
    return bool(SCOPE_TOKEN.match(token))


def describe(scope: str) -> str:
    return SCOPE_DESCRIPTIONS.get(scope, f"Access “{scope}” on your behalf")
