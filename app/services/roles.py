"""Roles, and the API scopes a principal (a person or a service account) may hold in its API keys."""

from __future__ import annotations

import re

from app.errors import ValidationError
from app.models import User
from app.scopes import ADMIN_ROLE, ADMIN_SCOPE, is_api_scope
from app.services.clients import validate_scope

ROLE_NAME = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
MAX_ROLES = 32
# Scopes that come with a role, on top of the principal's own; the admin scope only comes this way.
ROLE_SCOPES = {ADMIN_ROLE: (ADMIN_SCOPE,)}


def validate_roles(roles: list[str]) -> list[str]:
    unique = list(dict.fromkeys(roles))
    if len(unique) > MAX_ROLES:
        raise ValidationError(f"at most {MAX_ROLES} roles", field="roles")
    for role in unique:
        if not isinstance(role, str) or not ROLE_NAME.fullmatch(role):
            raise ValidationError(
                "a role is a lower-case name of letters, digits, '.', '_', ':' and '-' (at most 64)", field="roles"
            )
    return unique


def validate_principal_scope(scope: str) -> str:
    """The API scopes granted to a principal directly: no OpenID Connect scopes, nothing reserved."""
    scope = validate_scope(scope)
    for token in scope.split():
        if not is_api_scope(token):
            raise ValidationError(f"scope {token!r} cannot be granted to a principal", field="scope")
    return scope


def allowed_scopes(principal: User) -> list[str]:
    """What an API key of this principal may carry: its own scopes plus those its roles bring."""
    scopes = principal.scope.split()
    for role in principal.roles or []:
        scopes.extend(ROLE_SCOPES.get(role, ()))
    return list(dict.fromkeys(scopes))
