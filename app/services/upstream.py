"""The upstream leg of a federated sign-in, with Authlib's OAuth 2.0 client through app/egress: the authorization
URL (code flow, PKCE S256, state, nonce), the RFC 9207 `iss` check, the code exchange, ID token validation
(signature, iss, aud, exp, iat, nonce, at_hash: OpenID Connect Core §3.1.3.7) and the user-info request.

Everything the upstream sends is hostile input: any failure is an UpstreamError with a reason for the audit
trail and a short, safe description; nothing here touches the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authlib.common.errors import AuthlibBaseError
from authlib.oidc.core import CodeIDToken
from flask import current_app
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from app.egress import REQUEST_FAILURES, DocumentCache, EgressError, current_egress
from app.models import UpstreamProvider
from app.models.upstream_provider import OIDC
from app.services import providers

# A request to the upstream that did not get through, or came back as something other than JSON.
FAILED_REQUEST: tuple[type[Exception], ...] = (*REQUEST_FAILURES, ValueError)

CACHE = "ostiary.federation_documents"
# Asymmetric only: an HMAC-signed ID token would be keyed with the client secret we hold, proving nothing more.
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
MAX_ID_TOKEN_CHARS = 16 * 1024
LEEWAY_SECONDS = 60
TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # Entra ID's, a GUID


class UpstreamError(Exception):
    """The upstream leg failed. `reason` is for the audit trail; `unavailable` says the upstream could not be
    reached or answered nonsense (temporarily_unavailable to a relying party) rather than refusing."""

    def __init__(self, reason: str, *, unavailable: bool = False, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.unavailable = unavailable


@dataclass(frozen=True)
class Endpoints:
    issuer: str | None
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str | None
    jwks_uri: str | None
    iss_parameter_supported: bool
    algorithms: list[str]


def documents() -> DocumentCache:
    """Discovery documents and JWKS of upstream providers, cached per process within their Cache-Control."""
    cache = current_app.extensions.get(CACHE)
    if cache is None:
        cache = current_app.extensions[CACHE] = DocumentCache(current_egress(), failure_seconds=5)
    return cache


def endpoints(provider: UpstreamProvider) -> Endpoints:
    """OpenID Connect Discovery §4 for an OIDC provider (configured endpoints override); the configuration alone
    for an OAuth 2.0 one."""
    if provider.kind != OIDC:
        assert provider.authorization_endpoint and provider.token_endpoint
        return Endpoints(None, provider.authorization_endpoint, provider.token_endpoint, provider.userinfo_endpoint,
                         None, False, [])
    assert provider.issuer is not None
    try:
        metadata = documents().fetch_json(provider.issuer.rstrip("/") + "/.well-known/openid-configuration")
    except EgressError as exc:
        raise UpstreamError("discovery_failed", unavailable=True, detail=exc.detail) from None
    issuer = metadata.get("issuer")
    # §4.3: the issuer in the document is the one configured (Entra ID's names its tenant by id).
    if issuer != provider.issuer and not (provider.preset == "microsoft" and _entra_issuer(provider.issuer, issuer)):
        raise UpstreamError("discovery_issuer_mismatch", unavailable=True, detail=str(issuer)[:200])
    found: dict[str, Any] = {}
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        value = getattr(provider, name, None) or metadata.get(name)
        # The browser is sent to the authorization endpoint: never a plain http (or javascript:) one.
        if value is not None and not providers.acceptable_url(value):
            raise UpstreamError("discovery_malformed", unavailable=True, detail=name)
        found[name] = value
    if not found["authorization_endpoint"] or not found["token_endpoint"] or not found["jwks_uri"]:
        raise UpstreamError("discovery_incomplete", unavailable=True)
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [alg for alg in ID_TOKEN_ALGORITHMS if isinstance(offered, list) and alg in offered]
    return Endpoints(issuer, found["authorization_endpoint"], found["token_endpoint"], found["userinfo_endpoint"],
                     found["jwks_uri"], metadata.get("authorization_response_iss_parameter_supported") is True,
                     algorithms or ["RS256"])


def _entra_issuer(configured: str, named: Any) -> bool:
    """Entra ID's documents name the issuer by tenant id: `{tenantid}` for common and organizations (each ID
    token's `tid` fills it in), the tenant's GUID where it was configured by domain (and for consumers). Anything
    else in the URL is the configured issuer's."""
    if not isinstance(named, str):
        return False
    try:
        ours, theirs = urlsplit(configured), urlsplit(named)
    except ValueError:
        return False
    our_path, their_path = ours.path.split("/"), theirs.path.split("/")
    return ((theirs.scheme, theirs.netloc, theirs.query, theirs.fragment) == (ours.scheme, ours.netloc, "", "")
            and len(their_path) == len(our_path) > 2 and their_path[2:] == our_path[2:] and their_path[0] == ""
            and (their_path[1] == "{tenantid}" or TENANT_ID.fullmatch(their_path[1]) is not None))


def code_verifier(binding: str, state: str) -> str:
    """RFC 7636 §4.1, derived from the browser's binding secret: never stored, and only that browser has it."""
    mac = hmac.new(binding.encode("ascii"), f"pkce\x00{state}".encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _session(provider: UpstreamProvider, **kwargs: Any) -> Any:
    session_class = current_egress().oauth2_session_class()
    return session_class(client_id=provider.client_id, client_secret=providers.client_secret(provider),
                         token_endpoint_auth_method=provider.token_endpoint_auth_method,
                         redirect_uri=providers.redirect_uri(provider), **kwargs)


def authorization_url(provider: UpstreamProvider, found: Endpoints, *, state: str, nonce: str, verifier: str,
                      login_hint: str | None = None) -> str:
    """RFC 6749 §4.1.1 with RFC 7636 S256; OpenID Connect Core §3.1.2.1 nonce for an OIDC provider."""
    extra: dict[str, str] = {"nonce": nonce} if provider.kind == OIDC else {}
    if login_hint:
        extra["login_hint"] = login_hint
    with _session(provider, scope=provider.scope or None, code_challenge_method="S256") as session:
        url, _ = session.create_authorization_url(found.authorization_endpoint, state=state, code_verifier=verifier,
                                                  **extra)
    return url


def check_issuer(provider: UpstreamProvider, found: Endpoints, iss: str | None) -> None:
    """RFC 9207 §2.4: an `iss` in the response must be the provider's; one that says it always sends it must."""
    if iss is None:
        if found.iss_parameter_supported:
            raise UpstreamError("iss_missing")
        return
    expected = found.issuer if provider.kind == OIDC else provider.issuer
    if expected is None or "{tenantid}" in expected or not hmac.compare_digest(iss, expected):
        # Microsoft's multi-tenant issuer is not known before the ID token names its tenant; it sends no iss.
        raise UpstreamError("iss_mismatch", detail=iss[:200])


def exchange(provider: UpstreamProvider, found: Endpoints, *, code: str, verifier: str, nonce: str) -> dict[str, Any]:
    """The code for tokens, then the person's claims: the ID token's, with user-info's added (its sub must be
    the same, §5.3.2); for an OAuth 2.0 provider, user-info's alone."""
    with _session(provider) as session:
        try:
            token = session.fetch_token(found.token_endpoint, grant_type="authorization_code", code=code,
                                        code_verifier=verifier)
        except AuthlibBaseError as exc:
            raise UpstreamError("token_refused", detail=str(exc)[:200]) from None
        except FAILED_REQUEST as exc:
            raise UpstreamError("token_request_failed", unavailable=True, detail=str(exc)[:200]) from None
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise UpstreamError("token_malformed", unavailable=True)
        claims: dict[str, Any] = {}
        if provider.kind == OIDC:
            claims = validate_id_token(provider, found, token.get("id_token"), nonce=nonce, access_token=access_token)
        if found.userinfo_endpoint:
            info = _get_json(session, found.userinfo_endpoint, "userinfo")
            if not isinstance(info, dict):
                raise UpstreamError("userinfo_malformed", unavailable=True)
            if provider.kind == OIDC:
                if info.get("sub") != claims["sub"]:
                    raise UpstreamError("userinfo_sub_mismatch")
                info = {**info, **claims}  # the signed claims win
            claims = info
        if provider.preset == "github":
            claims = {**claims, **_github_email(session, f"{found.userinfo_endpoint}/emails")}
    return claims


def _get_json(session: Any, url: str, what: str) -> Any:
    try:
        response = session.get(url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise UpstreamError(f"{what}_refused", unavailable=response.status_code >= 500,
                                detail=f"HTTP {response.status_code}")
        return response.json()
    except FAILED_REQUEST as exc:
        raise UpstreamError(f"{what}_failed", unavailable=True, detail=str(exc)[:200]) from None


def _github_email(session: Any, url: str) -> dict[str, Any]:
    """GitHub's /user email is whatever the person made public: the verified primary one comes from its emails API,
    /user/emails beside the user-info endpoint (api.github.com's, or a GitHub Enterprise Server's /api/v3)."""
    emails = _get_json(session, url, "emails")
    primary = next((item for item in emails if isinstance(item, dict) and item.get("primary") is True),
                   None) if isinstance(emails, list) else None
    if primary is None or not isinstance(primary.get("email"), str):
        return {"email": None, "email_verified": False}
    return {"email": primary["email"], "email_verified": primary.get("verified") is True}


def validate_id_token(provider: UpstreamProvider, found: Endpoints, id_token: Any, *, nonce: str,
                      access_token: str) -> dict[str, Any]:
    """OpenID Connect Core §3.1.3.7: signature by a key of the provider's JWKS, then iss, aud, azp, exp, iat,
    nonce and at_hash."""
    if not isinstance(id_token, str) or not id_token or len(id_token) > MAX_ID_TOKEN_CHARS:
        raise UpstreamError("id_token_missing" if not id_token else "id_token_malformed")
    assert found.jwks_uri is not None
    registry = JWSRegistry(algorithms=found.algorithms)
    try:
        try:
            decoded = jwt.decode(id_token, KeySet.import_key_set(_jwks(found.jwks_uri)), registry=registry)
        except InvalidKeyIdError:
            # A key we have not seen: the provider may have rotated; fetch again (at most once a minute).
            decoded = jwt.decode(id_token, KeySet.import_key_set(_jwks(found.jwks_uri, refresh=True)), registry=registry)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise UpstreamError("id_token_invalid", detail=f"{type(exc).__name__}: {str(exc)[:200]}") from None
    claims = dict(decoded.claims)
    expected = found.issuer or provider.issuer or ""
    if "{tenantid}" in expected:
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or not TENANT_ID.fullmatch(tenant):
            raise UpstreamError("id_token_invalid", detail="no tid for a multi-tenant issuer")
        expected = expected.replace("{tenantid}", tenant)
    options = {"iss": {"essential": True, "value": expected}, "aud": {"essential": True, "value": provider.client_id}}
    params = {"nonce": nonce, "client_id": provider.client_id, "access_token": access_token}
    try:
        CodeIDToken(claims, decoded.header, options, params).validate(leeway=LEEWAY_SECONDS)
    except (JoseError, ValueError, TypeError) as exc:
        raise UpstreamError("id_token_invalid", detail=f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return claims


def _jwks(url: str, *, refresh: bool = False) -> Any:
    try:
        return documents().fetch_json(url, refresh_if_older_than=60 if refresh else None)
    except EgressError as exc:
        raise UpstreamError("jwks_failed", unavailable=True, detail=exc.detail) from None
