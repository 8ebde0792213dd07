"""One catalogue of bad tokens, tried at every place Ostiary verifies a token: userinfo (GET and POST), the admin
API (bearer-protected resources), introspection, revocation, the refresh grant, and id_token_hint at logout and at
authorize.

FORGERIES (point 7): the algorithm is pinned and every classic forgery is refused wherever a JWT is verified.
UNUSABLE_ACCESS_TOKENS and UNUSABLE_REFRESH_TOKENS: genuine tokens that may no longer be used (expired, revoked,
rotated, of a disabled or deleted user, of the wrong kind). Each bad token starts from a real one, so a verifier
that accepted it would answer differently (claims, active: true, a revoked token, a 200)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.models import RefreshToken, User
from app.oauth.signing import keyring
from app.scopes import ADMIN_SCOPE
from tests.admin.conftest import admin_token
from tests.factories import Factories, RegisteredClient
from tests.flows import (
    assert_oauth_error,
    authorization_params,
    pkce_pair,
    redirect_error,
    refresh,
    revoke,
    tokens_for,
    userinfo,
)
from tests.security.forgery import (
    new_rsa_key,
    parts,
    public_jwk,
    public_pem,
    sign_hs256,
    sign_rs256,
    tampered,
    unsigned,
)
from tests.site import Site

ATTACKER = new_rsa_key()


@dataclass
class Ours:
    key: rsa.RSAPrivateKey
    kid: str


HOLDER = "holder@example.com"


@dataclass
class Real:
    """The genuine tokens of one sign-in, and what it takes to spoil them."""

    site: Site
    make: Factories
    client: RegisteredClient
    access_token: str
    refresh_token: str
    id_token: str

    @property
    def claims(self) -> dict:
        return jwt.decode(self.access_token, options={"verify_signature": False})


@pytest.fixture
def ours(app) -> Ours:
    with app.app_context():
        current = keyring().current
        key = serialization.load_pem_private_key(current.key.as_pem(private=True), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return Ours(key, current.kid)


@pytest.fixture
def real(site, make) -> Real:
    make.user(HOLDER)
    client = make.client(post_logout_redirect_uris=["https://app.example.com/bye"])
    tokens = tokens_for(site, client, HOLDER)
    return Real(site, make, client, tokens["access_token"], tokens["refresh_token"], tokens["id_token"])


@pytest.fixture
def admin(site, make) -> str:
    """An access token for the admin API (another audience), from an administrator's API key."""
    key = make.api_key(make.user("root@example.com", roles=["admin"]), scope=ADMIN_SCOPE, name="ops")
    return admin_token(site, key)


def resigned(token: str, ours: Ours, **claims: object) -> str:
    """Our own key, our own kid: only the changed claims are wrong."""
    header, original = parts(token)
    return sign_rs256(header, {**original, **claims}, ours.key)


def with_header(token: str, key: rsa.RSAPrivateKey, **header: object) -> str:
    original_header, claims = parts(token)
    return sign_rs256({**original_header, **header}, claims, key)


Forge = Callable[[str, Ours], str]
NOW = int(time.time())
# Each applies to an access token, an admin API token and an ID token alike.
FORGERIES: dict[str, Forge] = {
    "alg none": lambda token, ours: unsigned(parts(token)[0], parts(token)[1]),
    "alg None, mixed case": lambda token, ours: unsigned(parts(token)[0], parts(token)[1], alg="None"),
    "HS256 keyed with our public key": lambda token, ours: sign_hs256(*parts(token), public_pem(ours.key)),
    "unknown kid": lambda token, ours: with_header(token, ATTACKER, kid="attacker-key-1"),
    "kid naming a file": lambda token, ours: sign_hs256({**parts(token)[0], "kid": "../../../../../../dev/null"},
                                                        parts(token)[1], b""),
    "kid carrying SQL": lambda token, ours: with_header(token, ATTACKER, kid="' UNION SELECT 'x' --"),
    "jku to the attacker's keys": lambda token, ours: with_header(
        token, ATTACKER, kid="attacker-key-1", jku="https://evil.example/jwks.json"),
    "jku beside our own kid": lambda token, ours: with_header(token, ours.key, jku="https://evil.example/jwks.json"),
    "embedded jwk of the attacker": lambda token, ours: with_header(
        token, ATTACKER, kid="attacker-key-1", jwk=public_jwk(ATTACKER, "attacker-key-1")),
    "embedded jwk beside our own kid": lambda token, ours: with_header(token, ours.key,
                                                                        jwk=public_jwk(ours.key, ours.kid)),
    "x5u header": lambda token, ours: with_header(token, ours.key, x5u="https://evil.example/cert.pem"),
    "crit header": lambda token, ours: with_header(token, ours.key, crit=["exp"]),
    "wrong iss": lambda token, ours: resigned(token, ours, iss="https://evil.example"),
    "not yet valid (nbf)": lambda token, ours: resigned(token, ours, nbf=NOW + 3600),
    "not yet valid (iat)": lambda token, ours: resigned(token, ours, iat=NOW + 3600),
    "tampered payload": lambda token, ours: tampered(token, sub="someone-else", scope="openid profile email roles"),
    "signature stripped": lambda token, ours: token.rsplit(".", 1)[0] + ".",
    "signature reversed": lambda token, ours: token[:token.rindex(".") + 1] + token[token.rindex(".") + 1:][::-1],
    "signature replaced": lambda token, ours: token[:-10] + "AAAAAAAAAA",
    "HS256 keyed with a guessed secret": lambda token, ours: sign_hs256(*parts(token),
                                                                        b"a-shared-secret-anyone-could-try-0123"),
    "not a JWT": lambda token, ours: "not-a-token",
    "never issued": lambda token, ours: "never-issued-" + "x" * 30,
}


# --- the places that verify a token, each asserting its own refusal ------------------------------------------

def refused_by_userinfo(real: Real, token: str) -> None:
    """RFC 6750 §3.1, in the Authorization header of a GET or a POST, and in a form-encoded POST body (§2.2)."""
    for method in ("GET", "POST", "POST body"):
        assert_oauth_error(userinfo(real.site, token, method), "invalid_token", 401)


def refused_by_admin_api(site: Site, token: str) -> None:
    response = site.get("/admin/api/users", headers={"Authorization": f"Bearer {token}"})
    assert_oauth_error(response, "invalid_token", 401)


def inactive_at_introspection(real: Real, token: str) -> None:
    """RFC 7662 §2.2: nothing beyond "active": false, whatever the hint."""
    for hint in (None, "access_token", "refresh_token"):
        data = {"token": token} | ({"token_type_hint": hint} if hint else {})
        response = real.site.post("/oauth/introspect", data=data,
                                 auth=(real.client.client_id, real.client.client_secret))
        assert response.status_code == 200, (hint, response.text)
        assert response.json() == {"active": False}, hint
        assert response.headers["Cache-Control"] == "no-store"


def harmless_at_revocation(real: Real, token: str) -> None:
    """RFC 7009 §2.2 answers 200 to anything; the real token with the same jti must stay active."""
    assert revoke(real.site, real.client, token).status_code == 200
    active = real.site.post("/oauth/introspect", data={"token": real.access_token},
                           auth=(real.client.client_id, real.client.client_secret)).json()
    assert active["active"] is True


def refused_by_the_refresh_grant(real: Real, token: str) -> None:
    assert_oauth_error(refresh(real.site, real.client, token), "invalid_grant")


def refused_as_id_token_hint(site: Site, token: str) -> None:
    response = site.get("/oauth/logout", params={"id_token_hint": token}, allow_redirects=False)
    assert response.status_code == 400, response.text
    assert "Location" not in response.headers


def refused_as_authorization_hint(real: Real, token: str) -> None:
    """OpenID Connect Core §3.1.2.1 at /oauth/authorize: invalid_request, sent back to the verified client."""
    _, challenge = pkce_pair()
    params = authorization_params(real.client, challenge, id_token_hint=token)
    response = real.site.get("/oauth/authorize", params=params, allow_redirects=False)
    assert redirect_error(response)["error"] == "invalid_request"


def test_the_real_tokens_are_accepted_everywhere(site, real, admin):
    """The baseline every bad token below is measured against."""
    for method in ("GET", "POST"):
        assert userinfo(site, real.access_token, method).status_code == 200
    assert site.get("/admin/api/users",
                        headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    for token in (real.access_token, real.refresh_token):
        assert site.post("/oauth/introspect", data={"token": token},
                             auth=(real.client.client_id, real.client.client_secret)).json()["active"] is True
    hint = site.get("/oauth/logout", allow_redirects=False,
                        params={"id_token_hint": real.id_token, "post_logout_redirect_uri": "https://app.example.com/bye"})
    assert hint.status_code == 302
    _, challenge = pkce_pair()
    authorize = site.get("/oauth/authorize", allow_redirects=False,
                             params=authorization_params(real.client, challenge, id_token_hint=real.id_token))
    assert authorize.status_code == 302 and authorize.headers["Location"].startswith("/login?")


# --- FORGERIES x every place that verifies a JWT -------------------------------------------------------------

@pytest.mark.fuzz  # every forgery at every site: some 700 requests
@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_tokens_are_refused_wherever_ostiary_verifies_one(site, real, admin, ours, forge):
    forged_access = forge(real.access_token, ours)
    refused_by_userinfo(real, forged_access)
    inactive_at_introspection(real, forged_access)
    harmless_at_revocation(real, forged_access)
    refused_by_admin_api(site, forge(admin, ours))
    refused_as_id_token_hint(site, forge(real.id_token, ours))
    refused_as_authorization_hint(real, forge(real.id_token, ours))


# --- genuine tokens that may no longer be used x every place that takes them -----------------------------------

def revoked(real: Real, token: str) -> str:
    assert revoke(real.site, real.client, token).status_code == 200
    return token


def of_a_disabled_user(real: Real, token: str) -> str:
    real.make.update(User, {"email": HOLDER}, is_active=False)
    return token


def rotated(real: Real, token: str) -> str:
    """Rotated a minute ago: past the retry grace window, in which a lost response may be retried."""
    assert refresh(real.site, real.client, token).status_code == 200
    real.make.rotated_long_ago(token)
    return token


def expired_in_storage(real: Real, token: str) -> str:
    real.make.update(RefreshToken, {"client_id": real.client.client_id}, expires_at=NOW - 1)
    return token


NOBODY = "00000000-0000-4000-8000-000000000000"
# Each returns an access token that must be refused: by userinfo (invalid_token) and introspection (inactive).
# An ID token or a refresh token in its place: test_an_id_token_is_not_an_access_token and the test after it.
UNUSABLE_ACCESS_TOKENS: dict[str, Callable[[Real], str]] = {
    "expired": lambda real: real.make.jwt({**real.claims, "iat": NOW - 700, "exp": NOW - 100, "jti": "expired"}),
    "no typ": lambda real: real.make.jwt(real.claims, typ=None),
    "no sub": lambda real: real.make.jwt({k: v for k, v in real.claims.items() if k != "sub"}),
    "scope not a string": lambda real: real.make.jwt({**real.claims, "scope": ["openid"]}),
    "of a deleted user": lambda real: real.make.jwt({**real.claims, "sub": NOBODY}),
    "revoked": lambda real: revoked(real, real.access_token),
    "of a revoked family": lambda real: revoked(real, real.refresh_token) and real.access_token,
    "of a disabled user": lambda real: of_a_disabled_user(real, real.access_token),
}

# Each returns a refresh token that must be refused: by introspection (inactive) and the refresh grant.
UNUSABLE_REFRESH_TOKENS: dict[str, Callable[[Real], str]] = {
    "revoked": lambda real: revoked(real, real.refresh_token),
    "rotated": lambda real: rotated(real, real.refresh_token),
    "expired": lambda real: expired_in_storage(real, real.refresh_token),
    "of a disabled user": lambda real: of_a_disabled_user(real, real.refresh_token),
}


@pytest.mark.parametrize("spoil", UNUSABLE_ACCESS_TOKENS.values(), ids=UNUSABLE_ACCESS_TOKENS.keys())
def test_unusable_access_tokens_are_refused_wherever_ostiary_takes_one(real, spoil):
    token = spoil(real)
    refused_by_userinfo(real, token)
    inactive_at_introspection(real, token)


@pytest.mark.parametrize("spoil", UNUSABLE_REFRESH_TOKENS.values(), ids=UNUSABLE_REFRESH_TOKENS.keys())
def test_unusable_refresh_tokens_are_refused_wherever_ostiary_takes_one(real, spoil):
    token = spoil(real)
    inactive_at_introspection(real, token)
    refused_by_the_refresh_grant(real, token)


# --- tokens for another purpose ----------------------------------------------------------------------------------

def test_expired_access_tokens_are_refused(site, real, admin, ours):
    expired = {"exp": NOW - 60, "iat": NOW - 660}
    forged = resigned(real.access_token, ours, **expired)
    refused_by_userinfo(real, forged)
    inactive_at_introspection(real, forged)
    refused_by_admin_api(site, resigned(admin, ours, **expired))


def test_a_token_for_another_audience_is_refused_where_the_audience_is_checked(site, real, admin, ours):
    refused_by_admin_api(site, resigned(admin, ours, aud="https://api.example.com"))
    refused_by_admin_api(site, resigned(admin, ours, aud=["https://api.example.com"]))
    # Userinfo is Ostiary's own resource: a resource server cannot replay the tokens it receives there.
    refused_by_userinfo(real, resigned(real.access_token, ours, aud="https://api.example.com"))
    refused_by_userinfo(real, resigned(real.access_token, ours, aud=["https://api.example.com"]))


def test_an_id_token_is_not_an_access_token(site, real):
    refused_by_userinfo(real, real.id_token)
    inactive_at_introspection(real, real.id_token)
    harmless_at_revocation(real, real.id_token)
    refused_by_admin_api(site, real.id_token)


def test_a_refresh_token_is_not_a_bearer_token(site, real):
    refused_by_userinfo(real, real.refresh_token)
    refused_by_admin_api(site, real.refresh_token)


def test_an_access_token_is_not_an_id_token_hint(site, real, admin):
    for token in (real.access_token, admin):
        refused_as_id_token_hint(site, token)
        refused_as_authorization_hint(real, token)
