"""Refresh tokens (RFC 6749 §6, RFC 9700 §4.14, OpenID Connect Core §11) over real HTTP."""

from __future__ import annotations

import time

import pytest

from app.models import Client, RefreshToken, User
from app.security.secrets import digest
from tests.flows import assert_no_store, assert_oauth_error, introspect, refresh, tokens_for
from tests.site import Site

EMAIL = "alice@example.com"
FULL_SCOPE = "openid profile email offline_access"


@pytest.fixture
def user(make):
    return make.user(EMAIL)


@pytest.fixture
def rp(make):
    return make.client()


@pytest.fixture
def tokens(site, rp, user) -> dict:
    return tokens_for(site, rp, EMAIL)


def refreshed(site: Site, client, refresh_token: str, **extra: str) -> dict:
    response = refresh(site, client, refresh_token, **extra)
    assert response.status_code == 200, response.text
    assert_no_store(response)
    return response.json()


def test_each_use_rotates(site, rp, tokens):
    first = refreshed(site, rp, tokens["refresh_token"])
    second = refreshed(site, rp, first["refresh_token"])
    assert len({tokens["refresh_token"], first["refresh_token"], second["refresh_token"]}) == 3
    assert set(second["scope"].split()) == set(FULL_SCOPE.split())
    claims = introspect(site, rp, second["access_token"])
    assert claims["active"] is True and claims["client_id"] == rp.client_id


@pytest.mark.parametrize("reused", ["original, its child used", "rotated, outside the grace window"])
def test_reuse_revokes_the_whole_family(site, make, rp, tokens, reused):
    """RFC 9700 §4.14.2: a rotated refresh token presented again is a theft signal."""
    first = refreshed(site, rp, tokens["refresh_token"])
    newest = refreshed(site, rp, first["refresh_token"])
    if reused.startswith("original"):
        old = tokens["refresh_token"]
    else:
        old = first["refresh_token"]
        make.rotated_long_ago(old)
    assert_oauth_error(refresh(site, rp, old), "invalid_grant")
    assert_oauth_error(refresh(site, rp, newest["refresh_token"]), "invalid_grant")
    for token in (newest["access_token"], first["access_token"], tokens["access_token"], newest["refresh_token"]):
        assert introspect(site, rp, token) == {"active": False}


def test_a_retry_within_the_grace_window_gets_a_fresh_pair(site, app, rp, tokens):
    """The response of a rotation was lost: the client presents the same refresh token again, seconds later."""
    assert app.config["REFRESH_REUSE_GRACE_SECONDS"] == 10
    lost = refreshed(site, rp, tokens["refresh_token"])

    retried = refreshed(site, rp, tokens["refresh_token"])

    assert retried["refresh_token"] not in (lost["refresh_token"], tokens["refresh_token"])
    # The unused child of the lost response is consumed, so at most one refresh token of the family is live.
    assert introspect(site, rp, lost["refresh_token"]) == {"active": False}
    assert introspect(site, rp, retried["refresh_token"])["active"] is True
    assert introspect(site, rp, lost["access_token"])["active"] is True  # no family revocation
    again = refreshed(site, rp, retried["refresh_token"])
    # The lost child turning up later is a reuse like any other: the family is revoked.
    assert_oauth_error(refresh(site, rp, lost["refresh_token"]), "invalid_grant")
    assert introspect(site, rp, again["refresh_token"]) == {"active": False}


def test_a_grace_window_of_zero_makes_every_retry_a_reuse(site, app, rp, tokens, monkeypatch):
    monkeypatch.setitem(app.config, "REFRESH_REUSE_GRACE_SECONDS", 0)
    lost = refreshed(site, rp, tokens["refresh_token"])
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")
    assert introspect(site, rp, lost["refresh_token"]) == {"active": False}


def test_a_retry_after_the_child_was_used_is_reuse(site, rp, tokens):
    child = refreshed(site, rp, tokens["refresh_token"])
    grandchild = refreshed(site, rp, child["refresh_token"])
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")
    assert introspect(site, rp, grandchild["refresh_token"]) == {"active": False}


def test_a_retry_by_another_client_is_reuse(site, make, rp, tokens):
    refreshed(site, rp, tokens["refresh_token"])
    assert_oauth_error(refresh(site, make.client(), tokens["refresh_token"]), "invalid_grant")
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")  # the family is gone


def test_reuse_revokes_only_its_own_family(site, make, rp, user, tokens):
    other = tokens_for(site, rp, EMAIL)
    refreshed(site, rp, tokens["refresh_token"])
    make.rotated_long_ago(tokens["refresh_token"])
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")
    assert introspect(site, rp, other["access_token"])["active"] is True
    refreshed(site, rp, other["refresh_token"])


def test_narrower_scope_then_full_scope_again(site, rp, tokens):
    """RFC 6749 §6: a narrower access token; the new refresh token keeps what was originally granted."""
    narrow = refreshed(site, rp, tokens["refresh_token"], scope="openid profile")
    assert narrow["scope"] == "openid profile"
    assert introspect(site, rp, narrow["access_token"])["scope"] == "openid profile"
    assert set(introspect(site, rp, narrow["refresh_token"])["scope"].split()) == set(FULL_SCOPE.split())
    email_only = refreshed(site, rp, narrow["refresh_token"], scope="email")
    assert email_only["scope"] == "email"
    full = refreshed(site, rp, email_only["refresh_token"])
    assert set(full["scope"].split()) == set(FULL_SCOPE.split())


@pytest.mark.parametrize("scope", ["openid profile email offline_access admin", "admin", "api:read", "openid \"x\""])
def test_broader_scope_is_invalid_scope(site, rp, tokens, scope):
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"], scope=scope), "invalid_scope")
    refreshed(site, rp, tokens["refresh_token"])  # a refused request does not use the token up


def test_broader_than_original_after_narrowing_is_invalid_scope(site, make, user):
    rp = make.client(scope="openid profile email offline_access")
    tokens = tokens_for(site, rp, EMAIL, scope="openid profile offline_access")
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"], scope="email"), "invalid_scope")


def test_a_refresh_drops_the_scopes_an_operator_removed_from_the_client(site, make, rp, tokens):
    make.update(Client, {"client_id": rp.client_id}, scope="openid profile offline_access")  # email removed

    body = refreshed(site, rp, tokens["refresh_token"])

    assert set(body["scope"].split()) == {"openid", "profile", "offline_access"}
    assert "email" not in introspect(site, rp, body["access_token"])["scope"].split()
    assert set(introspect(site, rp, body["refresh_token"])["scope"].split()) == set(body["scope"].split())
    assert_oauth_error(refresh(site, rp, body["refresh_token"], scope="openid email"), "invalid_scope")
    assert refreshed(site, rp, body["refresh_token"], scope="openid")["scope"] == "openid"


def test_a_refresh_with_no_scope_left_is_invalid_grant(site, make, rp, tokens):
    make.update(Client, {"client_id": rp.client_id}, scope="api:read")
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")
    make.update(Client, {"client_id": rp.client_id}, scope=FULL_SCOPE)
    refreshed(site, rp, tokens["refresh_token"])  # the refused request did not use the token up


@pytest.mark.parametrize("public", [False, True])
def test_refresh_token_of_another_client(site, make, rp, tokens, public):
    other = make.client(public=public)
    assert_oauth_error(refresh(site, other, tokens["refresh_token"]), "invalid_grant")
    refreshed(site, rp, tokens["refresh_token"])  # still the owner's to use


def test_public_client_refreshes_with_client_id_only(site, make, user):
    public = make.client(public=True)
    tokens = tokens_for(site, public, EMAIL)  # the whole code flow without a secret
    first = refreshed(site, public, tokens["refresh_token"])
    refreshed(site, public, first["refresh_token"])
    assert_oauth_error(refresh(site, public, tokens["refresh_token"]), "invalid_grant")


def test_public_client_with_a_failed_basic_header_is_not_authenticated(site, make, user):
    public = make.client(public=True)
    tokens = tokens_for(site, public, EMAIL)
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": public.client_id}
    response = site.post("/oauth/token", data=data, auth=(public.client_id, "guess"))
    assert_oauth_error(response, "invalid_client", 401)


@pytest.mark.parametrize(
    ("client_scope", "scope", "gets_refresh_token"),
    [
        ("openid profile email offline_access", "openid profile", False),  # OpenID Connect Core §11
        ("openid profile email offline_access", "openid offline_access", True),
        ("openid profile email offline_access api:read", "api:read", True),
        ("openid profile email offline_access", "profile email", True),
    ],
)
def test_when_a_refresh_token_is_issued(site, make, user, client_scope, scope, gets_refresh_token):
    rp = make.client(scope=client_scope)
    tokens = tokens_for(site, rp, EMAIL, scope=scope)
    assert ("refresh_token" in tokens) is gets_refresh_token
    assert tokens["scope"] == scope


def test_no_refresh_token_without_the_refresh_grant(site, make, user):
    rp = make.client(grant_types=["authorization_code"])
    tokens = tokens_for(site, rp, EMAIL)
    assert "refresh_token" not in tokens


def test_refresh_grant_removed_after_issue(site, make, rp, tokens):
    make.update(Client, {"client_id": rp.client_id}, grant_types=["authorization_code"])
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "unauthorized_client")


def test_expired_refresh_token(site, make, rp, tokens):
    where = {"token_hash": digest(tokens["refresh_token"])}
    assert make.update(RefreshToken, where, expires_at=int(time.time()) - 1) == 1
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")


NINETY_DAYS = 90 * 24 * 3600


def test_the_family_lifetime_is_ninety_days_by_default(app):
    assert app.config["REFRESH_FAMILY_MAX_SECONDS"] == NINETY_DAYS


def test_a_family_ends_its_absolute_lifetime_after_the_sign_in(site, make, rp, tokens):
    """Rotation restarts each token's lifetime, not the family's: the person signs in again after 90 days."""
    signed_in_at = int(time.time()) - NINETY_DAYS - 1
    make.update(RefreshToken, {"token_hash": digest(tokens["refresh_token"])}, auth_time=signed_in_at,
                expires_at=int(time.time()) + 3600)  # a recent rotation: the token itself has not expired
    assert introspect(site, rp, tokens["refresh_token"]) == {"active": False}
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")


def test_a_rotated_token_never_outlives_its_family(site, make, rp, tokens):
    signed_in_at = int(time.time()) - NINETY_DAYS + 3600  # an hour of the family's lifetime left
    make.update(RefreshToken, {"token_hash": digest(tokens["refresh_token"])}, auth_time=signed_in_at)

    rotated = refreshed(site, rp, tokens["refresh_token"])

    assert introspect(site, rp, rotated["refresh_token"])["exp"] == signed_in_at + NINETY_DAYS
    assert introspect(site, rp, rotated["access_token"])["active"] is True


def test_refresh_token_of_a_disabled_user(site, make, rp, user, tokens):
    make.update(User, {"id": user.id}, is_active=False)
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")


def test_revoked_refresh_token(site, rp, tokens):
    revoked = site.post("/oauth/revoke", data={"token": tokens["refresh_token"]},
                            auth=(rp.client_id, rp.client_secret))
    assert revoked.status_code == 200
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")


@pytest.mark.parametrize(
    ("refresh_token", "error"),
    [("garbage", "invalid_grant"), ("x" * 3000, "invalid_grant"), ("ünïcødé", "invalid_grant"),
     (None, "invalid_request")],
)
def test_malformed_refresh_requests(site, rp, refresh_token, error):
    data = {"grant_type": "refresh_token"}
    if refresh_token is not None:
        data["refresh_token"] = refresh_token
    response = site.post("/oauth/token", data=data, auth=(rp.client_id, rp.client_secret))
    assert_oauth_error(response, error)


def test_refreshed_access_token_keeps_subject_and_auth_time(site, rp, user, tokens):
    before = introspect(site, rp, tokens["access_token"])
    after = introspect(site, rp, refreshed(site, rp, tokens["refresh_token"])["access_token"])
    assert after["sub"] == before["sub"] == user.sub
    assert after["jti"] != before["jti"]
