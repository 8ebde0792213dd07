"""The three grants we serve, on Authlib's protocol classes and their hooks, with our defaults.

Authlib's template methods run unchanged (create_token_response and its hooks, which OpenIDCode and PKCE use);
we fill in its seams: generate_token and issue_token decide what is issued, save_token hands it to the token
family service, which stores it with the consumption of the code or refresh token in one transaction. The refresh
grant consumes its token as it finds it, so its validation and create_token_response run in that transaction.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import current_app

from app import metrics
from app.models import ApiKey, AuthorizationCode, LoginSession, RefreshToken, User
from app.models.clock import now
from app.oauth.resource_indicators import bound_resource, requested_resource, resolve_resource
from app.oauth.tokens import IssuedToken, family_ends_at, live_families_signed_in_after, refresh_token_expires_at
from app.scopes import STANDARD_SCOPES, is_valid_scope_token
from app.services import audit, token_families
from app.services.resources import ResourceServer
from app.services.transaction import transaction

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


class ResourceBoundGrant:
    """What every grant of ours shares: the access token's audience, resolved once while validating (RFC 8707)."""

    request: OAuth2Request
    server: Any
    GRANT_TYPE: str
    #: The resource the access token is for (its `aud`); None: the default audience (tokens.default_audience).
    resource: ResourceServer | None = None

    def resolve_bound_resource(self, bound: str | None, scope: str) -> None:
        """RFC 8707 §2.2: a token request for a code or refresh token stays with the grant's resource."""
        identifier = bound_resource(requested_resource(self.request), bound)
        self.resource = resolve_resource(self.request.client, identifier, scope)

    def generate_token(self, user: User | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> IssuedToken:
        # Authlib's generator hook has no resource parameter: the audience is passed from here to the one generator.
        return self.server.generate_token(
            grant_type or self.GRANT_TYPE, self.request.client, user=user, scope=scope, expires_in=expires_in,
            include_refresh_token=include_refresh_token,
            audience=self.resource.identifier if self.resource else None,
        )


class RequestedScopeMixin(ResourceBoundGrant):
    """Where a request names its scope and resource itself (authorization, client_credentials): scopes the client
    is not registered for are refused, not silently dropped, and the resource named is resolved (RFC 8707)."""

    def validate_requested_scope(self) -> None:
        requested = self.request.payload.scope
        allowed = set((self.request.client.scope or "").split())
        for token in (requested or "").split():
            if not is_valid_scope_token(token):
                raise InvalidScopeError("scope is malformed")
            if token not in allowed:
                raise InvalidScopeError(f"scope '{token}' is not allowed for this client")
        self.resource = resolve_resource(self.request.client, requested_resource(self.request), requested)


def reuse_detected(token_type: str, used: AuthorizationCode | RefreshToken) -> None:
    """RFC 9700 §4.14.2, RFC 6749 §4.1.2: a used refresh token or code presented again revokes its family."""
    token_families.revoke_reused(used, token_type)
    metrics.token_reuse_detected(token_type)


def stored(token: IssuedToken, auth_time: int) -> token_families.Issued:
    """What storage keeps of a token response; its refresh token, if any, ends with its family (auth_time)."""
    return token_families.Issued(
        jti=token.jti, scope=token.get("scope", ""), expires_at=token.expires_at,
        refresh_token=token.get("refresh_token"),
        refresh_expires_at=refresh_token_expires_at(token.issued_at, auth_time),
    )


def offline_allowed(scope: str | None) -> bool:
    """OpenID Connect Core §11: with `openid`, a refresh token only for `offline_access`."""
    scopes = (scope or "").split()
    return "offline_access" in scopes or "openid" not in scopes


class S256CodeChallenge(CodeChallenge):
    """PKCE for every client, S256 only (RFC 9700 §2.1.1); Authlib defaults to optional plain."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("code_challenge is required (PKCE with S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        # RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is always 43 characters, unpadded.
        if not S256_CHALLENGE.fullmatch(data["code_challenge"]):
            raise InvalidRequestError("code_challenge is not a base64url SHA-256 digest")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("code_verifier is required")
        super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(RequestedScopeMixin, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    #: The sign-in the person authorizes in: the authorization view hands it over before the code is issued.
    login_session: LoginSession | None = None
    #: The acr value the ID token must carry (an essential acr request, OpenID Connect Core §5.5.1.1), handed
    #: over with the sign-in; None: the level the sign-in reached.
    reported_acr: str | None = None

    @staticmethod
    def validate_authorization_redirect_uri(request, client) -> str:
        """RFC 9700 §2.1: exact match, always required; Authlib's message echoes the URI (non-ASCII → crash)."""
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("redirect_uri is required")
        if not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("redirect_uri is not registered for this client")
        return redirect_uri

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        """Store only the digest; the code is bound to client, redirect_uri, PKCE, nonce, scope, resource, sign-in."""
        if self.login_session is None:
            raise RuntimeError("a code is issued only to a signed-in browser: hand over its login session")
        data = request.payload.data
        token_families.create_code(
            code, client_id=request.client.client_id, user=request.user, login_session=self.login_session,
            redirect_uri=request.payload.redirect_uri, scope=request.scope or "",
            resource=self.resource.identifier if self.resource else None, nonce=data.get("nonce"),
            code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
            lifetime_seconds=current_app.config["AUTHORIZATION_CODE_TTL_SECONDS"], acr=self.reported_acr,
        )

    def query_authorization_code(self, code: str, client) -> AuthorizationCode | None:
        found = token_families.find_code(code, client.client_id)
        if found is None:
            return None
        if found.used_at is not None:
            # RFC 6749 §4.1.2: a replayed code revokes everything issued from it.
            reuse_detected("authorization_code", found)
            return None
        if found.expires_at <= now() or not found.user.is_active:
            return None
        return found

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        return authorization_code.user

    def validate_token_request(self) -> None:
        super().validate_token_request()
        code: AuthorizationCode = self.request.authorization_code
        self.resolve_bound_resource(code.resource, code.scope)

    def generate_token(self, user: User | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> IssuedToken:
        # Authlib offers a refresh token to every client allowed the grant; OpenID Connect narrows that.
        include_refresh_token = include_refresh_token and offline_allowed(scope)
        return super().generate_token(user, scope, grant_type, expires_in, include_refresh_token)

    def save_token(self, token: IssuedToken) -> None:
        """Redeem the code and start its family, atomically: of concurrent redemptions exactly one wins."""
        code: AuthorizationCode = self.request.authorization_code
        try:
            token_families.start(code, stored(token, code.auth_time),
                                 resource=self.resource.identifier if self.resource else None)
        except token_families.AlreadyUsed:
            reuse_detected("authorization_code", code)
            raise InvalidGrantError("authorization code was already used") from None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Kept, marked used by save_token: a code presented again must be recognised as a replay."""


class RefreshTokenGrant(ResourceBoundGrant, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    # Rotation on every use (RFC 9700 §4.14.2); Authlib defaults to keeping the old token.
    INCLUDE_NEW_REFRESH_TOKEN = True
    #: RFC 6749 §6: the grant's scope less what an operator has since removed from the client (validate_refresh_token).
    granted_scope: str = ""
    #: Whether authenticate_refresh_token consumed the token as it found it; if not (a retry within the grace
    #: window), save_token's rotation decides.
    consumed: bool = False

    def validate_token_request(self) -> None:
        """Client authentication only: the token is consumed as it is found, so create_token_response validates it
        in the transaction that consumes it, and a request refused after that rolls the consumption back."""
        self.request.client = self._validate_request_client()

    def create_token_response(self) -> tuple[int, IssuedToken, list[tuple[str, str]]]:
        """RFC 6749 §6 as Authlib runs it, in one transaction from consumption to rotation; a reuse revokes the
        family once that transaction has rolled back, so that the revocation is not rolled back with it."""
        try:
            with transaction():
                self.validate_refresh_token()
                return super().create_token_response()
        except RefreshTokenReused as reuse:
            reuse_detected("refresh_token", reuse.token)
            raise InvalidGrantError(reuse.description) from None

    def validate_refresh_token(self) -> None:
        """The rest of Authlib's validate_token_request, then RFC 6749 §6 against what the client may have today."""
        old: RefreshToken = self._validate_request_token(self.request.client)
        self._validate_token_scope(old)
        self.request.refresh_token = old
        allowed = set((self.request.client.scope or "").split())
        self.granted_scope = " ".join(s for s in old.scope.split() if s in allowed)
        if old.scope and not self.granted_scope:
            raise InvalidGrantError("the client is no longer allowed any scope of this grant")
        requested = self.request.payload.scope
        # RFC 6749 §6: Authlib checked `scope` against the original grant; the client may since have lost some.
        if requested and not set(requested.split()) <= set(self.granted_scope.split()):
            raise InvalidScopeError("scope is not granted to this client any more")
        self.resolve_bound_resource(old.resource, requested or self.granted_scope)

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        """One conditional UPDATE finds and consumes a live token of this client; only a token it does not match
        is looked up, to tell unknown, expired, another client's, reused and retried apart."""
        consumed = token_families.consume_presented_refresh_token(
            refresh_token, client_id=self.request.client.get_client_id(),
            signed_in_after=live_families_signed_in_after(now()))
        self.consumed = consumed is not None
        return consumed if consumed is not None else self.not_consumed(refresh_token)

    def not_consumed(self, refresh_token: str) -> RefreshToken | None:
        """A token the consumption did not match: None if unknown, revoked, expired or its person disabled; a reuse
        unless a retry within the grace window; another client's is returned for Authlib to refuse."""
        found = token_families.find_refresh_token(refresh_token)
        if found is None or found.revoked_at is not None:
            return None
        if found.used_at is not None and not self.may_be_retry(found):
            raise RefreshTokenReused(found)  # reuse of a rotated token
        if found.is_expired() or family_ends_at(found.auth_time) <= now() or not found.user.is_active:
            return None  # the family's end is checked too, in case OSTIARY_REFRESH_FAMILY_MAX_SECONDS was lowered
        return found

    def may_be_retry(self, used: RefreshToken) -> bool:
        """Rotated within the grace window, and presented by its own client: save_token's rotation decides."""
        grace = current_app.config["REFRESH_REUSE_GRACE_SECONDS"]
        return bool(grace) and used.used_at >= now() - grace and used.check_client(self.request.client)

    def authenticate_user(self, refresh_token: RefreshToken) -> User:
        return refresh_token.user

    def issue_token(self, user: User, refresh_token: RefreshToken) -> IssuedToken:
        """RFC 6749 §6: the scope requested, else all that is still granted (Authlib would reissue the original)."""
        return self.generate_token(user=user, scope=self.request.payload.scope or self.granted_scope,
                                   include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN)

    def save_token(self, token: IssuedToken) -> None:
        """Rotate, atomically; or replace the unused child of a rotation retried within the grace window."""
        old: RefreshToken = self.request.refresh_token
        try:
            token_families.rotate(old, stored(token, old.auth_time), scope=self.granted_scope,
                                  grace_seconds=current_app.config["REFRESH_REUSE_GRACE_SECONDS"],
                                  consumed=self.consumed)
        except token_families.AlreadyUsed:
            raise RefreshTokenReused(old, "refresh token was already used") from None

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Consumed by authenticate_refresh_token (or save_token's rotation), in the same transaction."""


class RefreshTokenReused(Exception):
    """A used refresh token presented again (RFC 9700 §4.14.2): raised inside the grant's transaction, reported
    (the family revoked, invalid_grant with `description`) by create_token_response once it has rolled back."""

    def __init__(self, token: RefreshToken, description: str | None = None) -> None:
        super().__init__(description)
        self.token = token
        self.description = description


class ClientCredentialsGrant(RequestedScopeMixin, grants.ClientCredentialsGrant):
    # "none" only so that a public client is told unauthorized_client, not invalid_client.
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if self.request.auth_method == "none":
            raise UnauthorizedClientError("client_credentials is for confidential clients only")  # RFC 6749 §4.4

    @property
    def owner(self) -> User | None:
        """An API key's tokens speak for its owner (sub); a registered client is its own subject."""
        client = self.request.client
        return client.owner if isinstance(client, ApiKey) else None

    def generate_token(self, user: User | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = False) -> IssuedToken:
        scope = scope or default_machine_scope(self.request.client, self.resource)
        return super().generate_token(self.owner, scope, grant_type, expires_in, include_refresh_token)

    def save_token(self, token: IssuedToken) -> None:
        """Nothing is stored on the hot path: the audit log line alone, since a row would add a commit."""
        owner = self.owner
        audit.log_only("token.issued", user_sub=owner.sub if owner else None, client_id=self.request.client.client_id,
                       grant_type=self.GRANT_TYPE, jti=token.jti, family_id=None, scope=token.get("scope", ""))


def default_machine_scope(client, resource: ResourceServer | None) -> str:
    """RFC 6749 §3.3: without `scope`, a machine gets its registered API scopes (those of the resource, if named)."""
    scopes = [s for s in (client.scope or "").split() if s not in STANDARD_SCOPES]
    if resource is not None:
        scopes = [s for s in scopes if s in resource.scopes]
    return " ".join(scopes)
