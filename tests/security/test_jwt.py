"""Point 7: wherever Ostiary verifies a JWT itself (userinfo, introspection, revocation, admin API, id_token_hint
at logout and at authorize), the algorithm is pinned and every classic forgery is refused. Each forgery starts
from a real token, so a verifier that accepted it would answer differently (claims, active: true, a revoked
token, a 200)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.oauth.signing import keyring
from app.scopes import ADMIN_SCOPE
from tests.admin.conftest import admin_token
from tests.factories import RegisteredClient
from tests.flows import authorization_params, pkce_pair, redirect_error, tokens_for, userinfo
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

ATTACKER = new_rsa_key()


@dataclass
class Ours:
    key: rsa.RSAPrivateKey
    kid: str


@dataclass
class Real:
    access_token: str
    id_token: str
    admin_token: str
    client: RegisteredClient


@pytest.fixture
def ours(app) -> Ours:
    with app.app_context():
        current = keyring().current
        key = serialization.load_pem_private_key(current.key.as_pem(private=True), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return Ours(key, current.kid)


@pytest.fixture
def real(live_server, make) -> Real:
    make.user("holder@example.com")
    client = make.client(post_logout_redirect_uris=["https://app.example.com/bye"])
    tokens = tokens_for(live_server, client, "holder@example.com")
    admin = make.user("root@example.com", roles=["admin"])
    key = make.api_key(admin, scope=ADMIN_SCOPE, name="ops")
    return Real(tokens["access_token"], tokens["id_token"], admin_token(live_server, key), client)


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
}


def refused_by_userinfo(live_server: str, token: str) -> None:
    response = userinfo(live_server, token)
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def inactive_at_introspection(live_server: str, client: RegisteredClient, token: str) -> None:
    response = requests.post(f"{live_server}/oauth/introspect", data={"token": token},
                             auth=(client.client_id, client.client_secret))
    assert response.json() == {"active": False}


def harmless_at_revocation(live_server: str, real: Real, token: str) -> None:
    """RFC 7009 §2.2 answers 200 to anything; the real token with the same jti must stay active."""
    response = requests.post(f"{live_server}/oauth/revoke", data={"token": token},
                             auth=(real.client.client_id, real.client.client_secret))
    assert response.status_code == 200
    inactive_check = requests.post(f"{live_server}/oauth/introspect", data={"token": real.access_token},
                                   auth=(real.client.client_id, real.client.client_secret)).json()
    assert inactive_check["active"] is True


def refused_by_admin_api(live_server: str, token: str) -> None:
    response = requests.get(f"{live_server}/admin/api/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"


def refused_as_id_token_hint(live_server: str, token: str) -> None:
    response = requests.get(f"{live_server}/oauth/logout", params={"id_token_hint": token}, allow_redirects=False)
    assert response.status_code == 400, response.text
    assert "Location" not in response.headers


def refused_as_authorization_hint(live_server: str, real: Real, token: str) -> None:
    """OpenID Connect Core §3.1.2.1 at /oauth/authorize: invalid_request, sent back to the verified client."""
    _, challenge = pkce_pair()
    params = authorization_params(real.client, challenge, id_token_hint=token)
    response = requests.get(f"{live_server}/oauth/authorize", params=params, allow_redirects=False)
    assert redirect_error(response)["error"] == "invalid_request"


def test_the_real_tokens_are_accepted_everywhere(live_server, real):
    """The baseline every forgery below is measured against."""
    assert userinfo(live_server, real.access_token).status_code == 200
    assert requests.get(f"{live_server}/admin/api/users",
                        headers={"Authorization": f"Bearer {real.admin_token}"}).status_code == 200
    hint = requests.get(f"{live_server}/oauth/logout", allow_redirects=False,
                        params={"id_token_hint": real.id_token, "post_logout_redirect_uri": "https://app.example.com/bye"})
    assert hint.status_code == 302
    _, challenge = pkce_pair()
    authorize = requests.get(f"{live_server}/oauth/authorize", allow_redirects=False,
                             params=authorization_params(real.client, challenge, id_token_hint=real.id_token))
    assert authorize.status_code == 302 and authorize.headers["Location"].startswith("/login?")


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_tokens_are_refused_wherever_ostiary_verifies_one(live_server, real, ours, forge):
    forged_access = forge(real.access_token, ours)
    refused_by_userinfo(live_server, forged_access)
    inactive_at_introspection(live_server, real.client, forged_access)
    harmless_at_revocation(live_server, real, forged_access)
    refused_by_admin_api(live_server, forge(real.admin_token, ours))
    refused_as_id_token_hint(live_server, forge(real.id_token, ours))
    refused_as_authorization_hint(live_server, real, forge(real.id_token, ours))


def test_expired_access_tokens_are_refused(live_server, real, ours):
    expired = {"exp": NOW - 60, "iat": NOW - 660}
    forged = resigned(real.access_token, ours, **expired)
    refused_by_userinfo(live_server, forged)
    inactive_at_introspection(live_server, real.client, forged)
    refused_by_admin_api(live_server, resigned(real.admin_token, ours, **expired))


def test_a_token_for_another_audience_is_refused_where_the_audience_is_checked(live_server, real, ours):
    refused_by_admin_api(live_server, resigned(real.admin_token, ours, aud="https://api.example.com"))
    refused_by_admin_api(live_server, resigned(real.admin_token, ours, aud=["https://api.example.com"]))
    # Userinfo is Ostiary's own resource: a resource server cannot replay the tokens it receives there.
    refused_by_userinfo(live_server, resigned(real.access_token, ours, aud="https://api.example.com"))
    refused_by_userinfo(live_server, resigned(real.access_token, ours, aud=["https://api.example.com"]))


def test_an_id_token_is_not_an_access_token(live_server, real):
    refused_by_userinfo(live_server, real.id_token)
    inactive_at_introspection(live_server, real.client, real.id_token)
    harmless_at_revocation(live_server, real, real.id_token)
    refused_by_admin_api(live_server, real.id_token)


def test_an_access_token_is_not_an_id_token_hint(live_server, real):
    for token in (real.access_token, real.admin_token):
        refused_as_id_token_hint(live_server, token)
        refused_as_authorization_hint(live_server, real, token)
