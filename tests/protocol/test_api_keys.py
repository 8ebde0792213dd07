"""API keys at the token endpoint: client_credentials with client_id = the key id, client_secret = the whole key."""

from __future__ import annotations

import re
import time

import jwt
import pytest
import requests
from sqlalchemy import event

from app.errors import ValidationError
from app.extensions import db
from app.models import ApiKey, User
from app.security.secrets import digest
from app.services import api_keys
from tests.factories import RegisteredClient
from tests.flows import assert_oauth_error, client_credentials, introspect, revoke

OWNER = "owner@example.com"
KEY_FORMAT = re.compile(r"ost_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def owner(make):
    return make.user(OWNER, scope="api:read api:write")


@pytest.fixture
def key(make, owner):
    return make.api_key(owner, scope="api:read api:write")


def decode(base_url: str, access_token: str, audience: str) -> dict:
    """What a downstream service does: JWKS from discovery, RS256, iss, aud, exp, typ."""
    signing_key = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json").get_signing_key_from_jwt(access_token)
    assert jwt.get_unverified_header(access_token)["typ"] == "at+jwt"
    return jwt.decode(access_token, signing_key.key, algorithms=["RS256"], audience=audience, issuer=base_url,
                      options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})


# --- issuing -------------------------------------------------------------------------------------------------

def test_the_key_is_shown_once_in_a_scannable_format_and_stored_as_a_digest(app, key):
    assert KEY_FORMAT.fullmatch(key.client_secret)
    assert key.client_secret.split("_")[1] == key.client_id
    with app.app_context():
        stored = db.session.query(ApiKey).filter_by(key_id=key.client_id).one()
        assert stored.secret_hash == digest(key.client_secret)
        assert key.client_secret not in {stored.secret_hash, stored.key_id, stored.name}


@pytest.mark.parametrize("method", ["basic", "post"])
def test_a_key_is_traded_for_a_jwt_that_verifies_offline(live_server, key, owner, method):
    response = client_credentials(live_server, key, method=method, scope="api:read")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "api:read" and "refresh_token" not in body
    claims = decode(live_server, body["access_token"], audience=live_server)
    assert (claims["sub"], claims["client_id"], claims["scope"]) == (owner.sub, key.client_id, "api:read")
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 600


def test_without_scope_a_key_gets_all_its_scopes(live_server, key):
    assert client_credentials(live_server, key).json()["scope"] == "api:read api:write"


def test_a_resource_becomes_the_audience(live_server, make, owner):
    api = make.resource("https://billing.example.com", scope="api:read")
    key = make.api_key(owner, scope="api:read api:write")
    body = client_credentials(live_server, key, resource=api).json()
    claims = decode(live_server, body["access_token"], audience=api)
    assert claims["scope"] == "api:read"  # only the scopes of that resource


def test_a_service_account_key(live_server, make):
    account = make.service_account("billing-worker", scope="invoices:read")
    key = make.api_key(account, scope="invoices:read")
    claims = decode(live_server, client_credentials(live_server, key).json()["access_token"], audience=live_server)
    assert (claims["sub"], claims["client_id"]) == (account.sub, key.client_id)
    auditor = make.machine(introspect_all=True)
    assert introspect(live_server, auditor, client_credentials(live_server, key).json()["access_token"])["active"]


def test_authentication_is_answered_from_the_client_cache(app, key):
    """The hot path: parse, the key from the client cache (SQLite asks only PRAGMA data_version), one SHA-256;
    no writes within a minute. The first use loads it with one SELECT by key_id, owner joined."""
    statements: list[str] = []
    with app.app_context():
        # One pooled connection, as in tests/services/test_client_cache.py: on SQLite each connection's first look
        # empties the cache, and earlier tests' threads may have left several in the pool.
        db.engine.dispose()
        api_keys.authenticate(key.client_secret)  # the first use writes last_used_at
        db.session.remove()
        listener = lambda *args: statements.append(args[2])
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert api_keys.authenticate(key.client_secret) is not None
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        db.session.remove()
    assert [s for s in statements if not s.startswith("PRAGMA data_version")] == []


def test_a_malformed_key_costs_no_database_work(app):
    with app.app_context():
        for candidate in ["", "ost_", "gh_0123456789abcdef_" + "a" * 43, "ost_0123456789abcdeF_" + "a" * 43,
                          "ost_0123456789abcdef_" + "a" * 42, "ost_0123456789abcdef"]:
            assert api_keys.parse(candidate) is None
            assert api_keys.authenticate(candidate) is None


def test_last_used_is_written_at_most_once_a_minute(live_server, app, make, key):
    def last_used() -> int | None:
        with app.app_context():
            return db.session.query(ApiKey.last_used_at).filter_by(key_id=key.client_id).scalar()

    assert last_used() is None
    assert client_credentials(live_server, key).status_code == 200
    first = last_used()
    assert first is not None and abs(first - time.time()) < 5
    make.update(ApiKey, {"key_id": key.client_id}, last_used_at=first - 30)
    assert client_credentials(live_server, key).status_code == 200
    assert last_used() == first - 30  # used again within the minute: not written
    make.update(ApiKey, {"key_id": key.client_id}, last_used_at=first - 61)
    # The client cache remembers this process's last write (a last-use write clears no cache); another
    # process, which has not written it, sees a minute has passed and writes.
    app.extensions["ostiary.client_cache"].clear()
    assert client_credentials(live_server, key).status_code == 200
    assert last_used() >= first


# --- refusals ------------------------------------------------------------------------------------------------

def test_a_revoked_key_is_refused_at_once(live_server, app, key):
    assert client_credentials(live_server, key).status_code == 200
    with app.app_context():
        api_keys.revoke_api_key(api_keys.get_api_key(key.client_id), actor=None)
    assert_oauth_error(client_credentials(live_server, key), "invalid_client", 401)
    assert_oauth_error(client_credentials(live_server, key, method="post"), "invalid_client", 401)


def test_an_expired_key_is_refused(live_server, make, key):
    make.update(ApiKey, {"key_id": key.client_id}, expires_at=int(time.time()) - 1)
    assert_oauth_error(client_credentials(live_server, key), "invalid_client", 401)


def test_a_key_of_a_disabled_owner_is_refused(live_server, make, key):
    make.update(User, {"email": OWNER}, is_active=False)
    assert_oauth_error(client_credentials(live_server, key), "invalid_client", 401)
    make.update(User, {"email": OWNER}, is_active=True)
    assert client_credentials(live_server, key).status_code == 200


@pytest.mark.parametrize("mangle", [
    lambda key: RegisteredClient(key.client_id, key.client_secret[:-1] + ("B" if key.client_secret[-1] == "A" else "A"),
                                 ""),
    lambda key: RegisteredClient(key.client_id, "ost_" + "0" * 16 + key.client_secret[20:], ""),
    lambda key: RegisteredClient("0" * 16, key.client_secret, ""),
    lambda key: RegisteredClient(key.client_id, "xyz" + key.client_secret[3:], ""),
    lambda key: RegisteredClient(key.client_id, key.client_secret[:-2], ""),
], ids=["wrong-secret", "other-key-id", "client-id-mismatch", "wrong-prefix", "truncated"])
@pytest.mark.parametrize("method", ["basic", "post"])
def test_a_wrong_key_is_invalid_client(live_server, key, mangle, method):
    response = client_credentials(live_server, mangle(key), method=method)
    assert response.status_code in (400, 401)  # 401 once a client was named and failed to authenticate
    assert_oauth_error(response, "invalid_client", response.status_code)


def test_a_key_cannot_ask_for_more_than_its_scopes(live_server, make, owner):
    narrow = make.api_key(owner, scope="api:read")
    assert_oauth_error(client_credentials(live_server, narrow, scope="api:read api:write"), "invalid_scope")
    assert_oauth_error(client_credentials(live_server, narrow, scope="openid"), "invalid_scope")


def test_a_key_asking_for_more_scopes_than_its_owner_has_is_refused(app, make, owner):
    with app.app_context(), pytest.raises(ValidationError) as refused:
        api_keys.create_api_key(db.session.get(User, owner.id), "too much", "api:read billing:admin", actor=None)
    assert refused.value.field == "scope" and "billing:admin" in refused.value.description
    with app.app_context(), pytest.raises(ValidationError):
        api_keys.create_api_key(db.session.get(User, owner.id), "admin", "ostiary:admin", actor=None)


def test_a_key_loses_scopes_its_owner_loses(live_server, app, make, owner, key):
    from app.services.users import update_user

    with app.app_context():
        update_user(db.session.get(User, owner.id), {"scope": "api:read"}, actor=None)
    assert_oauth_error(client_credentials(live_server, key, scope="api:write"), "invalid_scope")
    assert client_credentials(live_server, key).json()["scope"] == "api:read"


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token"])
def test_a_key_is_for_client_credentials_only(live_server, key, grant_type):
    response = requests.post(f"{live_server}/oauth/token", data={"grant_type": grant_type, "code": "x",
                                                                 "refresh_token": "x", "redirect_uri": "https://a/b",
                                                                 "code_verifier": "v" * 43},
                             auth=(key.client_id, key.client_secret))
    assert_oauth_error(response, "unauthorized_client")


def test_a_key_revokes_its_tokens_but_cannot_introspect(live_server, make, key):
    token = client_credentials(live_server, key).json()["access_token"]
    assert revoke(live_server, key, token).status_code == 200
    assert introspect(live_server, make.machine(introspect_all=True), token)["active"] is False
    response = requests.post(f"{live_server}/oauth/introspect", data={"token": token},
                             auth=(key.client_id, key.client_secret))
    assert_oauth_error(response, "invalid_client", 401)


def test_a_key_may_not_target_a_resource_outside_its_scopes(live_server, make, owner, key):
    other = make.resource("https://other.example.com", scope="other:read")
    assert_oauth_error(client_credentials(live_server, key, resource=other), "invalid_target")
