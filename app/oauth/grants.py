"""The three grants we serve, on Authlib's protocol classes, with our defaults."""

from __future__ import annotations

import re
import uuid
from typing import ClassVar

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import current_app

from app import metrics
from app.extensions import db
from app.models import ApiKey, AuthorizationCode, RefreshToken
from app.models.clock import now
from app.oauth.resource_indicators import bound_resource, requested_resource, resolve_resource
from app.oauth.tokens import family_ends_at
from app.scopes import STANDARD_SCOPES, is_valid_scope_token
from app.security.secrets import digest
from app.services import audit, token_families

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


class ResourceBoundGrant:
    """What every grant of ours shares: the RFC 8707 resource becomes the access token's `aud`."""

    def resolve_bound_resource(self, bound: str | None, scope: str) -> None:
        """RFC 8707 §2.2: a token request for a code or refresh token stays with the grant's resource."""
        identifier = bound_resource(requested_resource(self.request), bound)
        self.request.resource = resolve_resource(self.request.client, identifier, scope)

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        # Authlib's generator hook has no resource parameter: the audience is passed from here to the one generator.
        resource = getattr(self.request, "resource", None)
        return self.server.generate_token(
            grant_type or self.GRANT_TYPE,
            self.request.client,
            user=user,
            scope=scope,
            expires_in=expires_in,
            include_refresh_token=include_refresh_token,
            audience=resource.identifier if resource else None,
        )


class RequestedScopeMixin(ResourceBoundGrant):
    """Where a request names its scope and resource itself (authorization, client_credentials): scopes the client
    is not registered for are refused, not silently dropped, and the resource named is resolved (RFC 8707).
    Authlib's refresh grant never calls validate_requested_scope: it checks the scope against the grant's."""

    def validate_requested_scope(self) -> None:
        requested = self.request.payload.scope
        allowed = set((self.request.client.scope or "").split())
        for token in (requested or "").split():
            if not is_valid_scope_token(token):
                raise InvalidScopeError("scope is malformed")
            if token not in allowed:
                raise InvalidScopeError(f"scope '{token}' is not allowed for this client")
        self.request.resource = resolve_resource(self.request.client, requested_resource(self.request), requested)


def reuse_detected(token_type: str, used: AuthorizationCode | RefreshToken) -> None:
    """RFC 9700 §4.14.2, RFC 6749 §4.1.2: a used refresh token or code presented again revokes its family."""
    audit.record("token.reuse_detected", outcome="failure", user_sub=used.user.sub, client_id=used.client_id,
                 token_type=token_type, family_id=used.family_id)  # committed with the revocation
    token_families.revoke_family(used.family_id)
    metrics.token_reuse_detected(token_type)


def wants_refresh_token(client, scope: str) -> bool:
    """OpenID Connect Core §11: OIDC clients get a refresh token only with offline_access."""
    scopes = scope.split()
    return client.check_grant_type("refresh_token") and ("offline_access" in scopes or "openid" not in scopes)


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

    @staticmethod
    def validate_authorization_redirect_uri(request, client) -> str:
        """RFC 9700 §2.1: exact match, always required; Authlib's message echoes the URI (non-ASCII → crash)."""
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("redirect_uri is required")
        if not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("redirect_uri is not registered for this client")
        return redirect_uri

    def save_authorization_code(self, code: str, request) -> None:
        """Store only the digest; the code is bound to client, redirect_uri, PKCE, nonce, scope, auth_time."""
        data = request.payload.data
        login_session = request.login_session
        moment = now()
        db.session.add(
            AuthorizationCode(
                code_hash=digest(code),
                client_id=request.client.client_id,
                user_id=request.user.id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope or "",
                resource=request.resource.identifier if request.resource else None,
                nonce=data.get("nonce"),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                auth_time=login_session.auth_time,
                amr=login_session.amr,
                family_id=str(uuid.uuid4()),
                login_session_id=login_session.id,
                created_at=moment,
                expires_at=moment + current_app.config["AUTHORIZATION_CODE_TTL_SECONDS"],
            )
        )
        db.session.commit()

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

    def authenticate_user(self, authorization_code: AuthorizationCode):
        return authorization_code.user

    def validate_token_request(self) -> None:
        super().validate_token_request()
        code: AuthorizationCode = self.request.authorization_code
        self.resolve_bound_resource(code.resource, code.scope)

    @hooked
    def create_token_response(self):
        """Consume the code first, atomically: of concurrent redemptions exactly one wins."""
        client = self.request.client
        code: AuthorizationCode = self.request.authorization_code
        if not token_families.consume_code(code):
            db.session.rollback()
            reuse_detected("authorization_code", code)
            raise InvalidGrantError("authorization code was already used")
        user = code.user
        self.request.user = user
        self.request.family_id = code.family_id
        self.request.family_resource = self.request.resource.identifier if self.request.resource else None
        self.request.auth_time, self.request.amr = code.auth_time, code.amr
        self.request.login_session_id = code.login_session_id
        token = self.generate_token(
            user=user, scope=code.scope, include_refresh_token=wants_refresh_token(client, code.scope)
        )
        self.save_token(token)
        db.session.commit()
        return 200, token, self.TOKEN_RESPONSE_HEADER


class RefreshTokenGrant(ResourceBoundGrant, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    # Rotation on every use (RFC 9700 §4.14.2); Authlib defaults to keeping the old token.
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        found = token_families.find_refresh_token(refresh_token)
        if found is None or found.revoked_at is not None:
            return None
        if found.used_at is not None and not self.may_be_retry(found):
            reuse_detected("refresh_token", found)  # reuse of a rotated token
            return None
        if found.is_expired() or family_ends_at(found.auth_time) <= now() or not found.user.is_active:
            return None  # the family's end is checked too, in case OSTIARY_REFRESH_FAMILY_MAX_SECONDS was lowered
        return found

    def may_be_retry(self, used: RefreshToken) -> bool:
        """Rotated within the grace window, and presented by its own client: create_token_response decides."""
        grace = current_app.config["REFRESH_REUSE_GRACE_SECONDS"]
        return bool(grace) and used.used_at >= now() - grace and used.check_client(self.request.client)

    def authenticate_user(self, refresh_token: RefreshToken):
        return refresh_token.user

    def validate_token_request(self) -> None:
        super().validate_token_request()
        old: RefreshToken = self.request.refresh_token
        granted = self.granted_scope(old)
        requested = self.request.payload.scope
        # RFC 6749 §6: Authlib checked `scope` against the original grant; the client may since have lost some.
        if requested and not set(requested.split()) <= set(granted.split()):
            raise InvalidScopeError("scope is not granted to this client any more")
        self.resolve_bound_resource(old.resource, requested or granted)

    def granted_scope(self, old: RefreshToken) -> str:
        """The grant's scope less what an operator has since removed from the client; nothing left is invalid_grant."""
        allowed = set((self.request.client.scope or "").split())
        kept = " ".join(s for s in old.scope.split() if s in allowed)
        if old.scope and not kept:
            raise InvalidGrantError("the client is no longer allowed any scope of this grant")
        return kept

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Done atomically in create_token_response."""

    @hooked
    def create_token_response(self):
        """Rotate, atomically; or replace the unused child of a rotation retried within the grace window."""
        old: RefreshToken = self.request.refresh_token
        grace = current_app.config["REFRESH_REUSE_GRACE_SECONDS"]
        if token_families.consume_refresh_token(old):
            retry = False
        elif grace and token_families.consume_unused_child(old, grace):
            # The response of the rotation was lost (a network cut, a 503): a fresh pair replaces the one the
            # client never got, and the family lives on. Its child, consumed, is a reuse if it turns up later.
            retry = True
        else:
            db.session.rollback()
            reuse_detected("refresh_token", old)
            raise InvalidGrantError("refresh token was already used")
        granted = self.granted_scope(old)
        scope = self.request.payload.scope or granted
        self.request.user = old.user
        self.request.family_id = old.family_id
        self.request.refresh_scope = granted  # RFC 6749 §6: the new refresh token keeps what is still granted
        self.request.family_resource = old.resource
        self.request.auth_time, self.request.amr = old.auth_time, old.amr
        self.request.login_session_id = old.login_session_id
        token = self.generate_token(user=old.user, scope=scope, include_refresh_token=True)
        self.save_token(token)
        if retry:
            audit.record("token.refresh_retried", user_sub=old.user.sub, client_id=old.client_id,
                         family_id=old.family_id, jti=token.jti)  # committed with the new pair
        db.session.commit()
        return 200, token, self.TOKEN_RESPONSE_HEADER


class ClientCredentialsGrant(RequestedScopeMixin, grants.ClientCredentialsGrant):
    # "none" only so that a public client is told unauthorized_client, not invalid_client.
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if self.request.auth_method == "none":
            raise UnauthorizedClientError("client_credentials is for confidential clients only")  # RFC 6749 §4.4

    @hooked
    def create_token_response(self):
        client = self.request.client
        scope = self.request.payload.scope or default_machine_scope(client, self.request.resource)
        # An API key's tokens speak for its owner (sub); a registered client is its own subject.
        owner = client.owner if isinstance(client, ApiKey) else None
        token = self.generate_token(user=owner, scope=scope, include_refresh_token=False)
        self.save_token(token)  # stores nothing: it writes the audit log line
        return 200, token, self.TOKEN_RESPONSE_HEADER


def default_machine_scope(client, resource) -> str:
    """RFC 6749 §3.3: without `scope`, a machine gets its registered API scopes (those of the resource, if named)."""
    scopes = [s for s in (client.scope or "").split() if s not in STANDARD_SCOPES]
    if resource is not None:
        scopes = [s for s in scopes if s in resource.scopes]
    return " ".join(scopes)
