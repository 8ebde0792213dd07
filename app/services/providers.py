"""Upstream identity providers as configuration (README "Federation"), shared by the CLI and the admin API:
create from an issuer or a preset, list, update, delete. The client secret is sealed and never shown again."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from app.config import is_loopback
from app.errors import ConflictError, NotFoundError, ValidationError
from app.extensions import db
from app.models import UpstreamProvider
from app.models.upstream_provider import OAUTH2, OIDC
from app.security.sealed import seal, unseal
from app.services import audit
from app.services.pagination import Page, paginate
from app.services.roles import validate_roles
from app.services.transaction import transaction

SECRET_PURPOSE = "federation.client_secret"
NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
CLAIMS = ("sub", "email", "email_verified", "name", "picture", "groups")
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint")
MAX_SECRET_LENGTH = 1024
# Microsoft Entra ID: one issuer per tenant, named by its id. The discovery document of "common" or
# "organizations" names the issuer https://login.microsoftonline.com/{tenantid}/v2.0: each ID token's iss is
# checked against it with {tenantid} filled from the token's own `tid` claim; that of a tenant given by domain
# (or "consumers") names the tenant's GUID (app/services/upstream.py).
MICROSOFT_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
MULTI_TENANT = ("common", "organizations", "consumers")


@dataclass(frozen=True)
class Preset:
    kind: str
    display_name: str
    scope: str
    issuer: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    claim_mapping: dict[str, str] = field(default_factory=dict)
    token_endpoint_auth_method: str = "client_secret_basic"


PRESETS = {
    "google": Preset(OIDC, "Google", "openid email profile", issuer="https://accounts.google.com"),
    # Entra ID asserts no email_verified; xms_edov (an optional claim the tenant must enable) says whether the
    # email's domain is verified by its owner. Without it every Microsoft email counts as unverified.
    "microsoft": Preset(OIDC, "Microsoft", "openid email profile", issuer=MICROSOFT_ISSUER,
                        claim_mapping={"email_verified": "xms_edov"}),
    # GitHub is OAuth 2.0 only: the person from /user, the verified primary email from /user/emails.
    "github": Preset(OAUTH2, "GitHub", "read:user user:email", endpoints={
        "authorization_endpoint": "https://github.com/login/oauth/authorize",
        "token_endpoint": "https://github.com/login/oauth/access_token",
        "userinfo_endpoint": "https://api.github.com/user",
    }, claim_mapping={"sub": "id", "picture": "avatar_url"}, token_endpoint_auth_method="client_secret_post"),
}


def redirect_uri(provider: UpstreamProvider) -> str:
    """The exact redirect URI to register at the upstream: one callback path per provider (no mix-up)."""
    return f"{current_app.config['ISSUER']}/federation/{provider.name}/callback"


def client_secret(provider: UpstreamProvider) -> str:
    return unseal(SECRET_PURPOSE, provider.client_secret_sealed).decode("utf-8")


def get_provider(name: str) -> UpstreamProvider:
    found = find_provider(name)
    if found is None:
        raise NotFoundError("there is no such provider")
    return found


def find_provider(name: str) -> UpstreamProvider | None:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        return None
    return db.session.scalar(select(UpstreamProvider).where(UpstreamProvider.name == name))


def provider_page(limit: int, cursor: str | None) -> Page[UpstreamProvider]:
    """The admin API's list, oldest first."""
    return paginate(select(UpstreamProvider), UpstreamProvider.id, limit, cursor)


def list_providers(*, enabled_only: bool = False) -> list[UpstreamProvider]:
    query = select(UpstreamProvider).order_by(UpstreamProvider.display_name, UpstreamProvider.name)
    if enabled_only:
        query = query.where(UpstreamProvider.enabled.is_(True))
    return list(db.session.scalars(query))


def create_provider(name: str, *, client_id: str, client_secret: str, preset: str | None = None,
                    kind: str | None = None, issuer: str | None = None, tenant: str | None = None,
                    actor: str | None, **settings: Any) -> UpstreamProvider:
    """A new provider: a preset's defaults, then the explicit settings; checked whole before it is stored."""
    if preset is not None and preset not in PRESETS:
        raise ValidationError(f"preset must be one of {', '.join(PRESETS)}", field="preset")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValidationError("name may use lower-case letters, digits and '-' (at most 40)", field="name")
    base = PRESETS[preset] if preset else None
    if tenant is not None and preset != "microsoft":
        raise ValidationError("a tenant belongs to the microsoft preset", field="tenant")
    if preset == "microsoft" and issuer is None:
        issuer = MICROSOFT_ISSUER.format(tenant=_tenant(tenant or "common"))
    provider = UpstreamProvider(
        name=name, preset=preset, kind=kind or (base.kind if base else OIDC),
        display_name=(base.display_name if base else name), issuer=issuer or (base.issuer if base else None),
        scope=base.scope if base else "", token_endpoint_auth_method=(base.token_endpoint_auth_method if base
                                                                      else "client_secret_basic"),
        claim_mapping=dict(base.claim_mapping) if base else {}, role_mapping={}, trusted_domains=[],
        allow_sign_up=True, enabled=True, client_id="", client_secret_sealed="",
        **(dict(base.endpoints) if base else {}),
    )
    if not provider.scope:
        provider.scope = "openid email profile" if provider.kind == OIDC else ""
    _apply(provider, {"client_id": client_id, **settings})
    _set_secret(provider, client_secret)
    _check(provider)
    if find_provider(name) is not None:
        raise ConflictError("a provider with this name already exists", field="name")
    with transaction():
        db.session.add(provider)
        db.session.flush()
        audit.record("provider.created", actor=actor, provider=name, kind=provider.kind, preset=preset)
    return provider


def update_provider(provider: UpstreamProvider, changes: Mapping[str, Any], *, client_secret: str | None = None,
                    actor: str | None) -> UpstreamProvider:
    """Change settings (and the secret, if given); the name is fixed, it is in the registered redirect URI."""
    with transaction():
        _apply(provider, changes)
        if client_secret is not None:
            _set_secret(provider, client_secret)
        _check(provider)
        audit.record("provider.updated", actor=actor, provider=provider.name,
                     fields=sorted([*changes, *(["client_secret"] if client_secret is not None else [])]))
    return provider


def delete_provider(provider: UpstreamProvider, *, actor: str | None) -> None:
    """The provider and every identity linked through it; accounts stay (signing in by password or another way)."""
    with transaction():
        audit.record("provider.deleted", actor=actor, provider=provider.name)
        db.session.delete(provider)


SETTABLE = {"display_name", "client_id", "scope", "issuer", "token_endpoint_auth_method", "claim_mapping",
            "role_mapping", "trusted_domains", "allow_sign_up", "enabled", *ENDPOINTS}


def _apply(provider: UpstreamProvider, changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - SETTABLE
    if unknown:
        raise ValidationError(f"unknown setting {min(unknown)}", field=min(unknown))
    for name, value in changes.items():
        if name in ("issuer", *ENDPOINTS) and value == "":
            value = None
        if name == "trusted_domains":
            value = [_domain(domain) for domain in value]
        if name in ("claim_mapping", "role_mapping"):
            value = dict(value)
        setattr(provider, name, value)


def _set_secret(provider: UpstreamProvider, secret: str) -> None:
    if not isinstance(secret, str) or not secret or len(secret) > MAX_SECRET_LENGTH or not secret.isprintable():
        raise ValidationError(f"the client secret must be 1 to {MAX_SECRET_LENGTH} printable characters",
                              field="client_secret")
    provider.client_secret_sealed = seal(SECRET_PURPOSE, secret.encode("utf-8"))


def _check(provider: UpstreamProvider) -> None:
    """The whole configuration, whatever changed: an OIDC provider needs its issuer, an OAuth 2.0 one its endpoints."""
    if provider.kind not in (OIDC, OAUTH2):
        raise ValidationError("kind must be oidc or oauth2", field="kind")
    text = {"display_name": (provider.display_name, 100), "client_id": (provider.client_id, 255),
            "scope": (provider.scope, 1000)}
    for name, (value, limit) in text.items():
        if not isinstance(value, str) or len(value) > limit or not value.isprintable() or (
                name != "scope" and not value.strip()):
            raise ValidationError(f"{name} must be 1 to {limit} printable characters", field=name)
    if provider.token_endpoint_auth_method not in AUTH_METHODS:
        raise ValidationError(f"token_endpoint_auth_method must be {' or '.join(AUTH_METHODS)}",
                              field="token_endpoint_auth_method")
    if provider.kind == OIDC:
        if not provider.issuer:
            raise ValidationError("an OpenID Connect provider needs its issuer", field="issuer")
        if "openid" not in provider.scope.split():
            raise ValidationError("an OpenID Connect provider's scope must include openid", field="scope")
    elif any(not getattr(provider, name) for name in ENDPOINTS):
        raise ValidationError("an OAuth 2.0 provider needs its authorization, token and user-info endpoints",
                              field=next(name for name in ENDPOINTS if not getattr(provider, name)))
    for name in ("issuer", *ENDPOINTS):
        value = getattr(provider, name)
        if value is not None:
            _check_url(value, name)
    for name in ("claim_mapping", "role_mapping"):
        mapping = getattr(provider, name)
        if not isinstance(mapping, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 100 and 0 < len(v) <= 100
                and k.isprintable() and v.isprintable()
                for k, v in mapping.items()):
            raise ValidationError(f"{name} maps names to names", field=name)
    if set(provider.claim_mapping) - set(CLAIMS):
        raise ValidationError(f"claim_mapping may map {', '.join(CLAIMS)}", field="claim_mapping")
    validate_roles(list(provider.role_mapping.values()))
    if not isinstance(provider.allow_sign_up, bool) or not isinstance(provider.enabled, bool):
        raise ValidationError("allow_sign_up and enabled are true or false", field="enabled")


def _check_url(url: str, name: str) -> None:
    if not acceptable_url(url):
        raise ValidationError(f"{name} must be an https URL (http only on a loopback address)", field=name)


def acceptable_url(url: Any) -> bool:
    """An https URL (http only on a loopback address) without user information or fragment: the rule for the
    configured URLs and for those an upstream's discovery document names."""
    if not isinstance(url, str) or len(url) > 500 or not url.isprintable() or " " in url:
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return (bool(host) and parts.username is None and not parts.fragment
            and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))))


def _domain(domain: Any) -> str:
    value = domain.strip().lower() if isinstance(domain, str) else ""
    if not DOMAIN.fullmatch(value) or len(value) > 253:
        raise ValidationError(f"{str(domain)[:100]!r} is not a domain name", field="trusted_domains")
    return value


def _tenant(tenant: str) -> str:
    if tenant in MULTI_TENANT:
        return tenant
    if not re.fullmatch(r"[A-Za-z0-9.-]{1,100}", tenant):
        raise ValidationError("tenant is a tenant id, a domain, or common/organizations/consumers", field="tenant")
    return tenant


def provider_dict(provider: UpstreamProvider) -> dict[str, Any]:
    """The one JSON shape of a provider (CLI --json, admin API): never the client secret."""
    return {
        "name": provider.name, "display_name": provider.display_name, "kind": provider.kind, "preset": provider.preset,
        "issuer": provider.issuer, "client_id": provider.client_id, "scope": provider.scope,
        "token_endpoint_auth_method": provider.token_endpoint_auth_method,
        **{name: getattr(provider, name) for name in ENDPOINTS},
        "claim_mapping": dict(provider.claim_mapping or {}), "role_mapping": dict(provider.role_mapping or {}),
        "trusted_domains": list(provider.trusted_domains or []), "allow_sign_up": provider.allow_sign_up,
        "enabled": provider.enabled, "redirect_uri": redirect_uri(provider), "created_at": provider.created_at,
        "updated_at": provider.updated_at,
    }
