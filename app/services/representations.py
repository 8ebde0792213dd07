"""The one JSON shape of each object, printed by the CLI (--json) and returned by the admin API."""

from __future__ import annotations

from typing import Any

from app.models import ApiKey, AuditEvent, Client, Consent, Resource, User
from app.services.api_keys import PREFIX
from app.services.roles import allowed_scopes


def user_dict(user: User) -> dict[str, Any]:
    return {
        "sub": user.sub, "email": user.email, "username": user.username, "name": user.name,
        "email_verified": user.email_verified, "roles": list(user.roles or []), "is_admin": user.is_admin,
        "scope": user.scope, "is_active": user.is_active, "created_at": user.created_at, "updated_at": user.updated_at,
    }


def service_account_dict(account: User) -> dict[str, Any]:
    return {
        "sub": account.sub, "name": account.name, "roles": list(account.roles or []), "scope": account.scope,
        "allowed_scope": " ".join(allowed_scopes(account)), "is_active": account.is_active,
        "created_at": account.created_at,
    }


def client_dict(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id, "name": client.name, "public": client.is_public,
        "redirect_uris": list(client.redirect_uris or []),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris or []),
        "grant_types": list(client.grant_types or []), "scope": client.scope, "audience": client.audience,
        "resources": list(client.resources or []), "introspect_resources": list(client.introspect_resources or []),
        "introspect_all": client.introspect_all, "require_mfa": client.require_mfa, "is_active": client.is_active,
        "created_at": client.created_at, "registered_via": client.registered_via, "client_uri": client.client_uri,
        "logo_uri": client.logo_uri, "policy_uri": client.policy_uri, "tos_uri": client.tos_uri,
    }


def resource_dict(resource: Resource) -> dict[str, Any]:
    return {
        "id": resource.id, "identifier": resource.identifier, "name": resource.name, "scope": resource.scope,
        "created_at": resource.created_at, "updated_at": resource.updated_at,
    }


def api_key_dict(api_key: ApiKey) -> dict[str, Any]:
    """Never the key itself: only its recognisable prefix."""
    return {
        "key_id": api_key.key_id, "prefix": f"{PREFIX}_{api_key.key_id}_", "name": api_key.name,
        "owner": api_key.owner.sub, "scope": api_key.scope, "created_at": api_key.created_at,
        "expires_at": api_key.expires_at, "last_used_at": api_key.last_used_at, "revoked_at": api_key.revoked_at,
    }


def audit_event_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id, "at": event.at, "event": event.event, "outcome": event.outcome, "user_sub": event.user_sub,
        "client_id": event.client_id, "ip": event.ip, "request_id": event.request_id, "details": event.details or {},
    }


def consent_dict(consent: Consent) -> dict[str, Any]:
    return {
        "user_sub": consent.user.sub, "client_id": consent.client_id, "scope": consent.scope,
        "resources": list(consent.resources or []), "created_at": consent.created_at,
        "granted_at": consent.granted_at,
    }
