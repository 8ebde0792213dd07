"""Dynamic Client Registration (RFC 7591) and its management (RFC 7592): clients that register themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, exists

from app.errors import ValidationError
from app.extensions import db
from app.models import AccessTokenRecord, AuthorizationCode, Client, Consent, RefreshToken
from app.models.client import REGISTERED_OPENLY
from app.models.clock import now
from app.security.secrets import digest, generate_secret, matches
from app.services import audit, one_time_tokens
from app.services.client_metadata import presented_metadata
from app.services.clients import apply_metadata, get_client, new_client_id
from app.services.transaction import transaction

INITIAL_ACCESS_TOKEN = "initial_access_token"
POLICIES = ("off", "token", "open")


@dataclass(frozen=True)
class Registered:
    client: Client
    client_secret: str | None
    registration_access_token: str  # RFC 7592 §3: shown once, stored as a digest


def policy() -> str:
    return current_app.config["REGISTRATION"]


def register(document: Mapping[str, Any], *, via: str) -> Registered:
    """RFC 7591 §3.1: validate everything, then store it all in one transaction, or nothing."""
    presented = presented_metadata(document, default_auth_method="client_secret_basic")
    client = Client(client_id=new_client_id(), is_public=presented.public, registered_via=via, is_active=True,
                    created_at=now(), audience=None, resources=[], introspect_resources=[], introspect_all=False)
    apply_metadata(client, presented.changes)
    secret = None if presented.public else generate_secret(32)
    token = generate_secret(32)
    client.client_secret_hash = digest(secret) if secret else None
    client.registration_access_token_hash = digest(token)
    with transaction():
        db.session.add(client)
        audit.record("client.registered", client_id=client.client_id, via=via, public=presented.public)
    return Registered(client, secret, token)


def register_with_initial_token(document: Mapping[str, Any], initial_token: str | None, *, via: str) -> Registered | None:
    """RFC 7591 §3: under the "token" policy an initial access token is used up by the registration it allows
    (and only if that registration succeeds); None when it is not a live one."""
    with transaction():
        if not initial_token or one_time_tokens.consume(INITIAL_ACCESS_TOKEN, initial_token) is None:
            return None
        return register(document, via=via)


def issue_initial_access_token(ttl_seconds: int, *, actor: str | None) -> one_time_tokens.IssuedToken:
    """A one-time token that lets one client register itself under the "token" policy."""
    with transaction():
        issued = one_time_tokens.issue(INITIAL_ACCESS_TOKEN, user_id=None, ttl_seconds=ttl_seconds)
        audit.record("client.initial_access_token_issued", actor=actor, expires_at=issued.expires_at)
    return issued


def authenticate(client_id: str, registration_access_token: str) -> Client | None:
    """RFC 7592 §3: the registered client this token manages, or None (unknown client, wrong or no token)."""
    client = get_client(client_id)
    if client is None or not client.is_dynamic or not matches(registration_access_token, client.registration_access_token_hash):
        return None
    return client


def update_registration(client: Client, document: Mapping[str, Any]) -> Client:
    """RFC 7592 §2.2: the request replaces the client's metadata; omitted fields take their defaults. The client's
    type (public or confidential) does not change."""
    presented = presented_metadata(document, default_auth_method=client.token_endpoint_auth_method)
    if presented.public != client.is_public:
        raise ValidationError("token_endpoint_auth_method cannot change", field="token_endpoint_auth_method")
    with transaction():
        apply_metadata(client, presented.changes)
        audit.record("client.registration_updated", client_id=client.client_id, fields=sorted(presented.changes))
    return client


def unused_registrations(older_than: int) -> ColumnElement[bool]:
    """RFC 7591 §5 abandoned clients: registered openly before `older_than`, never given a code, token or consent
    (housekeeping.purge deletes them)."""
    condition = (Client.registered_via == REGISTERED_OPENLY) & (Client.created_at < older_than)
    for model in (AuthorizationCode, RefreshToken, AccessTokenRecord, Consent):
        condition = condition & ~exists().where(model.client_id == Client.client_id)
    return condition
