"""Scope vocabulary (RFC 6749 §3.3, OpenID Connect Core §5.4)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask_babel import gettext, lazy_gettext

STANDARD_SCOPES = ("openid", "profile", "email", "offline_access", "roles")

# The admin API's resource scope, and the role whose holders may use it.
ADMIN_SCOPE = "ostiary:admin"
ADMIN_ROLE = "admin"
# Scopes Ostiary defines for itself: never granted directly nor registered on a resource.
RESERVED_SCOPE_PREFIX = "ostiary:"

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")

# Plain words for the consent page, in the page's language.
SCOPE_DESCRIPTIONS = {
    "openid": lazy_gettext("Sign you in and know who you are"),
    "profile": lazy_gettext("See your name and username"),
    "email": lazy_gettext("See your email address"),
    "offline_access": lazy_gettext("Stay connected when you are not using it"),
    "roles": lazy_gettext("See the roles you have"),
}


def is_valid_scope_token(token: str) -> bool:
    return bool(SCOPE_TOKEN.match(token))


def is_api_scope(token: str) -> bool:
    """A scope an operator may register on a resource or grant to a principal: not OIDC's, not Ostiary's own."""
    return token not in STANDARD_SCOPES and not token.startswith(RESERVED_SCOPE_PREFIX)


def consent_lines(scope: str, resource_names: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(scope tokens, what the person reads, the tokens as detail) per line of the consent page: OpenID Connect
    scopes in plain words, API scopes under the name of the resource they belong to, one line per resource."""
    lines: list[tuple[str, str, str]] = []
    by_resource: dict[str, list[str]] = {}
    for token in dict.fromkeys(scope.split()):
        if token in resource_names and token not in SCOPE_DESCRIPTIONS:
            by_resource.setdefault(resource_names[token], []).append(token)
        else:
            lines.append((token, describe(token), ""))
    for name, tokens in by_resource.items():
        text = gettext("Use %(resource)s on your behalf", resource=name)
        lines.append((" ".join(tokens), text, ", ".join(tokens)))
    return lines


def describe(scope: str) -> str:
    """Plain text, never markup: a scope token may hold < and &, which the template escapes."""
    if scope in SCOPE_DESCRIPTIONS:
        return str(SCOPE_DESCRIPTIONS[scope])
    return gettext("Access “%(scope)s” on your behalf", scope=scope)
