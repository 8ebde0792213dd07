"""Revocation (RFC 7009), introspection (RFC 7662) and RP-initiated logout."""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.oidc.rpinitiated import EndSessionRequest
from flask import current_app

from app.models import Client, RefreshToken
from app.models.clock import now
from app.oauth.bearer import (
    CLOCK_SKEW_SECONDS,
    AccessToken,
    audiences,
    is_access_token_typ,
    verify_access_token,
)
from app.oauth.errors import UnsupportedTokenTypeError
from app.oauth.signing import InvalidJWT, verify
from app.oauth.tokens import family_ends_at
from app.services import api_keys, token_families
from app.services.clients import get_active_client
from app.services.users import is_active_subject


def check_token_parameter(request: OAuth2Request) -> None:
    """RFC 7009 §2.1 / RFC 7662 §2.1: exactly one `token` in the form body (RFC 6749 §3.2: no repeats)."""
    for name in ("token", "token_type_hint"):
        if len(request.form.getlist(name)) > 1:
            raise InvalidRequestError(f"parameter '{name}' is repeated")
    if not request.form.get("token"):
        raise InvalidRequestError("token is required")


def query_token(token_string: str, token_type_hint: str | None) -> RefreshToken | AccessToken | None:
    """The hint only orders the look-ups (RFC 7009 §2.1): a wrong hint still finds the token."""
    lookups = [_access_token, _refresh_token]
    if token_type_hint == "refresh_token":
        lookups.reverse()
    for lookup in lookups:
        found = lookup(token_string)
        if found is not None:
            return found
    return None


def _access_token(token_string: str) -> AccessToken | None:
    try:
        return verify_access_token(token_string)
    except InvalidJWT:
        return None


def _refresh_token(token_string: str) -> RefreshToken | None:
    return token_families.find_refresh_token(token_string)


class RevocationEndpoint(_RevocationEndpoint):
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post", "none"]

    def check_params(self, request: OAuth2Request, client: Client) -> None:
        check_token_parameter(request)
        hint = request.form.get("token_type_hint")
        if hint and hint not in self.SUPPORTED_TOKEN_TYPES:
            raise UnsupportedTokenTypeError()

    def query_token(self, token_string: str, token_type_hint: str | None):
        return query_token(token_string, token_type_hint)

    def revoke_token(self, token: RefreshToken | AccessToken, request: OAuth2Request) -> None:
        """RFC 7009 §2.1: a refresh token takes its whole family (and its access tokens) with it."""
        if isinstance(token, RefreshToken):
            token_families.revoke(token)
        else:
            token_families.revoke_access_token(token.jti, client_id=token.claims["client_id"],
                                               user_sub=token.claims["sub"], expires_at=token.claims["exp"])


class IntrospectionEndpoint(_IntrospectionEndpoint):
    # Only authenticated (confidential) clients may introspect.
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

    def check_params(self, request: OAuth2Request, client: Client) -> None:
        # RFC 7662 §2.1: the server MAY ignore token_type_hint; query_token searches every type anyway.
        check_token_parameter(request)

    def query_token(self, token_string: str, token_type_hint: str | None):
        return query_token(token_string, token_type_hint)

    def check_permission(self, token: RefreshToken | AccessToken, client: Client, request: OAuth2Request) -> bool:
        """RFC 7662 §4: a token's claims are for its own client, a resource server it is meant for, or an auditor."""
        if isinstance(token, RefreshToken):
            return client.may_introspect(token.client_id, [])  # no resource server is ever sent a refresh token
        return client.may_introspect(token.claims["client_id"], token.audiences)

    def authenticate_token(self, request: OAuth2Request, client: Client) -> RefreshToken | AccessToken | None:
        """The token, if this client may see it (check_permission) and what it speaks for still lives."""
        token = super().authenticate_token(request, client)
        return token if token is not None and _is_live(token, client) else None

    def introspect_token(self, token) -> dict[str, Any]:
        if isinstance(token, AccessToken):
            return {"active": True, "token_type": "Bearer", **token.claims}
        return {
            "active": True,
            "scope": token.scope,
            "client_id": token.client_id,
            "sub": token.user.sub,
            "iss": current_app.config["ISSUER"],
            "exp": token.expires_at,
            "iat": token.issued_at,
        }


def _is_live(token: RefreshToken | AccessToken, requester: Client) -> bool:
    """RFC 7662 §2.2: a token is active only while its client (or API key, and its owner) and its end-user are."""
    if isinstance(token, RefreshToken):
        # Deleting a client deletes its refresh tokens: the row itself vouches for the client.
        return token.user.is_active and family_ends_at(token.auth_time) > now()
    client_id, sub = token.claims["client_id"], token.claims["sub"]
    if api_keys.KEY_ID.fullmatch(client_id):
        return api_keys.is_live_key(client_id)  # the key's owner is its tokens' subject, checked with it
    # The requesting client has just authenticated, so only another client needs looking up.
    if client_id != requester.client_id and get_active_client(client_id) is None:
        return False
    if sub == client_id:
        return True  # client_credentials: the client is the subject
    return is_active_subject(sub)


def check_id_token_hint(hint: str, client_id: str | None = None) -> dict[str, Any]:
    """OpenID Connect Core §3.1.2.1, RP-Initiated Logout 1.0 §2: an ID token we issued (to client_id, when given),
    not any JWT we signed; an expired one is still a good hint. Returns its claims."""
    try:
        header, claims = verify(hint)
    except InvalidJWT:
        raise InvalidRequestError("id_token_hint is not a valid ID token") from None
    if (
        is_access_token_typ(header.get("typ"))
        or claims.get("iss") != current_app.config["ISSUER"]
        or not isinstance(claims.get("sub"), str)
        or not claims.get("aud")
        or any(_in_the_future(claims.get(name)) for name in ("iat", "nbf"))
    ):
        raise InvalidRequestError("id_token_hint is not a valid ID token")
    if client_id is not None and client_id not in audiences(claims["aud"]):
        raise InvalidRequestError("id_token_hint was not issued to this client")
    return claims


def _in_the_future(moment: Any) -> bool:
    """A time claim (RFC 7519 §4.1.5-6) that is not a finite number, or lies beyond the clock skew we allow."""
    if moment is None:
        return False
    if not isinstance(moment, int | float) or (isinstance(moment, float) and not math.isfinite(moment)):
        return True
    return moment > time.time() + CLOCK_SKEW_SECONDS


class EndSessionEndpoint(_EndSessionEndpoint):
    """OpenID Connect RP-Initiated Logout 1.0 §2-3."""

    def _validate_id_token_hint(self, id_token_hint: str) -> dict[str, Any]:
        """§2: an ID token we issued, verified once, by the rules of every id_token_hint (check_id_token_hint).
        Authlib's validate_request calls this; its own would verify the signature a second time."""
        return check_id_token_hint(id_token_hint)

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        """Nothing to do here: the view owns the browser's session cookie and ends that session itself."""


def ignored_post_logout_redirect(end_session_request: EndSessionRequest) -> str | None:
    """RP-Initiated Logout §3: why a post_logout_redirect_uri the request names was not followed, for the RP's
    developer; None when it was followed or none was named."""
    named = end_session_request.request.payload.data.get("post_logout_redirect_uri")
    if not named or end_session_request.redirect_uri is not None:
        return None
    client = end_session_request.client
    if client is None:
        return "post_logout_redirect_uri was ignored: the request names no client (send id_token_hint or client_id)"
    if named not in (client.post_logout_redirect_uris or []):
        return ("post_logout_redirect_uri was ignored: it is not one of the client's registered "
                "post_logout_redirect_uris (they must match exactly)")
    return "post_logout_redirect_uri was ignored: it is followed only with an id_token_hint"
