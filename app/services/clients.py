"""Client registration: validated metadata, a secret shown once and stored as a digest."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import Client
from app.scopes import STANDARD_SCOPES, is_valid_scope_token
from app.security.secrets import digest, generate_secret

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class Registration:
    client: Client
    client_secret: str | None


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


def validate_scope(scope: str) -> str:
    tokens = scope.split()
    for token in tokens:
        if not is_valid_scope_token(token):
            raise ValidationError(f"scope {token!r} is malformed", field="scope")
    return " ".join(dict.fromkeys(tokens))


def create_client(
    name: str,
    *,
    public: bool = False,
    redirect_uris: list[str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    grant_types: list[str] | None = None,
    scope: str | None = None,
    audience: str | None = None,
) -> Registration:
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ValidationError("name must be 1 to 200 printable characters", field="name")
    redirect_uris = [validate_redirect_uri(u, "redirect_uri") for u in redirect_uris or []]
    post_logout = [validate_redirect_uri(u, "post_logout_redirect_uri") for u in post_logout_redirect_uris or []]
    grants = list(dict.fromkeys(grant_types or ["authorization_code", "refresh_token"]))
    for grant in grants:
        if grant not in GRANT_TYPES:
            raise ValidationError(f"grant type {grant!r} is not one of {', '.join(GRANT_TYPES)}", field="grant_type")
    if public and "client_credentials" in grants:
        raise ValidationError("a public client cannot use client_credentials", field="grant_type")
    if "authorization_code" in grants and not redirect_uris:
        raise ValidationError("authorization_code needs at least one redirect URI", field="redirect_uri")
    default_scope = " ".join(STANDARD_SCOPES) if "authorization_code" in grants else ""
    secret = None if public else generate_secret(32)
    client = Client(
        client_id=generate_secret(16),
        client_secret_hash=digest(secret) if secret else None,
        name=name,
        is_public=public,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout,
        grant_types=grants,
        scope=validate_scope(scope if scope is not None else default_scope),
        audience=audience or None,
    )
    db.session.add(client)
    db.session.commit()
    return Registration(client=client, client_secret=secret)


def list_clients() -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.id)))


def get_client(client_id: str) -> Client | None:
    if not client_id or len(client_id) > 64:
        return None
    return db.session.scalar(select(Client).where(Client.client_id == client_id))
