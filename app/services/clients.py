"""Client registration: validated metadata, a secret shown once and stored as a digest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, select

from app.errors import NotFoundError, ValidationError
from app.extensions import db
from app.models import AuthorizationCode, Client, Consent, RefreshToken, Resource
from app.models.client import OPERATOR
from app.scopes import ADMIN_SCOPE, STANDARD_SCOPES, is_valid_scope_token
from app.security.secrets import digest, generate_secret
from app.services import audit, client_cache
from app.services.pagination import Page, paginate
from app.services.resources import admin_audience, validate_client_resources
from app.services.revocation import revoke_issued_to
from app.services.transaction import transaction

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
# A client that arrived on its own acts for a person only: client_credentials would be a token for nobody, minted
# by anyone.
DYNAMIC_GRANT_TYPES = ("authorization_code", "refresh_token")
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
LINK_FIELDS = ("client_uri", "logo_uri", "policy_uri", "tos_uri")


@dataclass(frozen=True)
class Registration:
    client: Client
    client_secret: str | None


def new_client_id() -> str:
    """128 random bits, URL-safe; never starting with '-', which a command line would read as an option."""
    while (client_id := generate_secret(16)).startswith("-"):
        pass
    return client_id


def validate_redirect_uri(uri: str, field: str) -> str:
    """RFC 9700 §2.1 / RFC 8252: absolute, no fragment, https (http only on loopback) or a private scheme."""
    if len(uri) > 2000 or any(ord(c) < 33 or ord(c) == 127 for c in uri):
        raise ValidationError(f"{uri!r} is not a valid URI", field=field)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValidationError(f"{uri!r} is not a valid URI", field=field) from None
    if parts.fragment or "#" in uri:
        raise ValidationError(f"{uri!r} must not contain a fragment", field=field)
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return uri
    if parts.scheme and "." in parts.scheme and parts.scheme not in {"http", "https"}:
        return uri  # RFC 8252 §7.1 private-use scheme of a native app, e.g. com.example.app:/cb
    raise ValidationError(f"{uri!r} must be https (http only for loopback) or a private-use scheme", field=field)


def validate_link_uri(uri: str | None, field: str) -> str | None:
    """RFC 7591 §2 client_uri, logo_uri, policy_uri, tos_uri: shown to people, so https (http only on loopback)."""
    if not uri:
        return None
    if len(uri) > 2000 or any(ord(c) < 33 or ord(c) == 127 for c in uri):
        raise ValidationError(f"{field} is not a valid URL", field=field)
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        raise ValidationError(f"{field} is not a valid URL", field=field) from None
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)
    if not host or not secure or parts.username is not None or "#" in uri:
        raise ValidationError(f"{field} must be an https URL without user information or fragment", field=field)
    return uri


def dynamic_scopes() -> set[str]:
    """What a client that arrived on its own may hold: OpenID Connect scopes and those registered resources define,
    never Ostiary's admin scope; within OSTIARY_DYNAMIC_CLIENT_SCOPES when that is set."""
    defined = {token for scope in db.session.scalars(select(Resource.scope)) for token in scope.split()}
    allowed = (set(STANDARD_SCOPES) | defined) - {ADMIN_SCOPE}
    cap = current_app.config["DYNAMIC_CLIENT_SCOPES"]
    return allowed & set(cap) if cap else allowed


def validate_dynamic_scope(scope: str | None) -> str:
    """The scope a client that arrived on its own asked for, or all it may hold when it asked for none."""
    allowed = dynamic_scopes()
    if scope is None:
        return " ".join(sorted(allowed))
    tokens = validate_scope(scope).split()
    refused = [token for token in tokens if token not in allowed]
    if refused:
        raise ValidationError(f"scope {refused[0]!r} is not available to this client", field="scope")
    return " ".join(tokens)


def validate_scope(scope: str) -> str:
    tokens = scope.split()
    for token in tokens:
        if not is_valid_scope_token(token):
            raise ValidationError(f"scope {token!r} is malformed", field="scope")
    return " ".join(dict.fromkeys(tokens))


def validate_client_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ValidationError("name must be 1 to 200 printable characters", field="name")
    return name


def validate_audience(audience: str | None) -> str | None:
    if audience and (len(audience) > 500 or any(ord(c) < 33 or ord(c) > 126 for c in audience)):
        raise ValidationError("audience must be at most 500 printable characters without spaces", field="audience")
    return audience or None


def validate_introspect_resources(identifiers: list[str]) -> list[str]:
    """RFC 7662 §4: registered resources the client serves; the admin API is Ostiary's own, served by no client."""
    unique = validate_client_resources(identifiers, "introspect_resources")
    if admin_audience() in unique:
        raise ValidationError("the admin API is served by Ostiary itself", field="introspect_resources")
    return unique


def check_metadata(client: Client) -> None:
    """Rules that tie fields together, checked after every change."""
    grants = client.grant_types
    for grant in grants:
        if grant not in GRANT_TYPES:
            raise ValidationError(f"grant type {grant!r} is not one of {', '.join(GRANT_TYPES)}", field="grant_types")
    if client.is_public and "client_credentials" in grants:
        raise ValidationError("a public client cannot use client_credentials", field="grant_types")
    if "authorization_code" in grants and not client.redirect_uris:
        raise ValidationError("authorization_code needs at least one redirect URI", field="redirect_uris")
    # RFC 7662 §2.1: introspection requires client authentication, which a public client cannot give.
    if client.is_public and client.introspect_resources:
        raise ValidationError("a public client cannot introspect tokens", field="introspect_resources")
    if client.is_public and client.introspect_all:
        raise ValidationError("a public client cannot introspect tokens", field="introspect_all")
    if client.is_dynamic:
        for grant in grants:
            if grant not in DYNAMIC_GRANT_TYPES:
                raise ValidationError(f"grant type {grant!r} is not available to this client", field="grant_types")
        if client.audience or client.resources or client.introspect_resources or client.introspect_all:
            raise ValidationError("only an operator grants resources and introspection", field="resources")


def apply_metadata(client: Client, changes: Mapping[str, Any]) -> None:
    """Validate and set registrable metadata (RFC 7591 §2 names) on a new or existing client."""
    if "name" in changes:
        client.name = validate_client_name(changes["name"])
    if "redirect_uris" in changes:
        client.redirect_uris = [validate_redirect_uri(u, "redirect_uris") for u in changes["redirect_uris"]]
    if "post_logout_redirect_uris" in changes:
        uris = changes["post_logout_redirect_uris"]
        client.post_logout_redirect_uris = [validate_redirect_uri(u, "post_logout_redirect_uris") for u in uris]
    if "grant_types" in changes:
        client.grant_types = list(dict.fromkeys(changes["grant_types"]))
    if "scope" in changes:
        scope = changes["scope"]
        client.scope = validate_dynamic_scope(scope) if client.is_dynamic else validate_scope(scope)
    if "audience" in changes:
        client.audience = validate_audience(changes["audience"])
    if "resources" in changes:
        client.resources = validate_client_resources(list(changes["resources"]))
    if "introspect_resources" in changes:
        client.introspect_resources = validate_introspect_resources(list(changes["introspect_resources"]))
    if "introspect_all" in changes:
        client.introspect_all = bool(changes["introspect_all"])
    for field in LINK_FIELDS:
        if field in changes:
            setattr(client, field, validate_link_uri(changes[field], field))
    if "require_mfa" in changes:
        client.require_mfa = bool(changes["require_mfa"])
    check_metadata(client)


def create_client(
    name: str,
    *,
    public: bool = False,
    redirect_uris: list[str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    grant_types: list[str] | None = None,
    scope: str | None = None,
    audience: str | None = None,
    resources: list[str] | None = None,
    introspect_resources: list[str] | None = None,
    introspect_all: bool = False,
    links: Mapping[str, str | None] | None = None,
    require_mfa: bool = False,
    actor: str | None = None,
) -> Registration:
    grants = list(dict.fromkeys(grant_types or ["authorization_code", "refresh_token"]))
    default_scope = " ".join(STANDARD_SCOPES) if "authorization_code" in grants else ""
    client = Client(client_id=new_client_id(), is_public=public, registered_via=OPERATOR)
    apply_metadata(client, {
        "name": name,
        "redirect_uris": redirect_uris or [],
        "post_logout_redirect_uris": post_logout_redirect_uris or [],
        "grant_types": grants,
        "scope": scope if scope is not None else default_scope,
        "audience": audience,
        "resources": resources or [],
        "introspect_resources": introspect_resources or [],
        "introspect_all": introspect_all,
        **{field: (links or {}).get(field) for field in LINK_FIELDS},
        "require_mfa": require_mfa,
    })
    secret = None if public else generate_secret(32)
    client.client_secret_hash = digest(secret) if secret else None
    with transaction():
        db.session.add(client)
        audit.record("client.created", client_id=client.client_id, actor=actor, public=public)
    return Registration(client=client, client_secret=secret)


def update_client(client: Client, changes: Mapping[str, Any], *, actor: str | None) -> Client:
    with transaction():
        apply_metadata(client, changes)
        audit.record("client.updated", client_id=client.client_id, actor=actor, fields=sorted(changes))
    return client


def rotate_secret(client: Client, *, actor: str | None) -> str:
    """A new secret, shown once; the old one stops working at once."""
    if client.is_public:
        raise ValidationError("a public client has no secret", field="client_id")
    secret = generate_secret(32)
    with transaction():
        client.client_secret_hash = digest(secret)
        audit.record("client.secret_rotated", client_id=client.client_id, actor=actor)
    return secret


def delete_client(client: Client, *, actor: str | None) -> None:
    """What it was issued goes with it: codes, refresh tokens and consents; its recorded access tokens are revoked."""
    with transaction():
        revoke_issued_to(client)
        for model in (AuthorizationCode, RefreshToken, Consent):
            db.session.execute(delete(model).where(model.client_id == client.client_id))
        audit.record("client.deleted", client_id=client.client_id, actor=actor)
        db.session.delete(client)


def disable_client(client: Client, *, actor: str | None) -> Client:
    """Refused from now on as an unregistered client would be (get_active_client), and what it was issued is taken
    back (RFC 7009 §2.1): its refresh tokens and recorded access tokens are revoked, its unredeemed codes void."""
    with transaction():
        client.is_active = False
        revoke_issued_to(client)
        audit.record("client.disabled", client_id=client.client_id, actor=actor)
    return client


def enable_client(client: Client, *, actor: str | None) -> Client:
    """Served again; the tokens revoked when it was disabled stay revoked."""
    with transaction():
        client.is_active = True
        audit.record("client.enabled", client_id=client.client_id, actor=actor)
    return client


def client_page(limit: int, cursor: str | None) -> Page[Client]:
    return paginate(select(Client), Client.id, limit, cursor)


def get_client(client_id: str) -> Client | None:
    if not client_id or len(client_id) > 64 or not client_id.isprintable():
        return None  # no client has such an id, and PostgreSQL refuses NUL in a query parameter
    return db.session.scalar(select(Client).where(Client.client_id == client_id))


def require(client_id: str) -> Client:
    """The registered client an operator or the admin API names, or NotFoundError."""
    client = get_client(client_id)
    if client is None:
        raise NotFoundError(f"no client {client_id!r}")
    return client


def get_active_client(client_id: str) -> Client | None:
    """A registered client that is not disabled: what the protocol endpoints serve (oauth/server.query_client); a
    detached copy from the client cache, read-only."""
    client = client_cache.cached("client", client_id, get_client)
    return client if client is not None and client.is_active else None
