"""The whole "login with us" flow with a real OAuth client (Authlib) and a real verifier (PyJWT)."""

from __future__ import annotations

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.flows import Browser, query_of


def test_code_flow_with_authlib_client_and_offline_verification(live_server, make):
    user = make.user("alice@example.com", name="Alice")
    registered = make.client()
    metadata = requests.get(f"{live_server}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == live_server

    rp = OAuth2Session(
        registered.client_id,
        registered.client_secret,
        scope="openid profile email offline_access",
        redirect_uri=registered.redirect_uri,
        code_challenge_method="S256",
    )
    verifier = "v" * 20 + "erifier-0123456789-abcdefghijklmnop"
    url, state = rp.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce="n-0S6_WzA2Mj"
    )

    browser = Browser(live_server)
    assert browser.login("alice@example.com").status_code == 302
    consent = browser.session.get(url, allow_redirects=False)
    assert consent.status_code == 200 and "Test App" in consent.text
    response = browser.authorize(query_of(url))
    assert response.status_code == 302
    callback = response.headers["Location"]
    query = query_of(callback)
    assert query["state"] == state
    assert query["iss"] == live_server  # RFC 9207

    token = rp.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 600
    assert {"access_token", "id_token", "refresh_token"} <= token.keys()

    jwks = jwt.PyJWKClient(metadata["jwks_uri"])
    access_key = jwks.get_signing_key_from_jwt(token["access_token"])
    header = jwt.get_unverified_header(token["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and header["kid"] == access_key.key_id
    claims = jwt.decode(token["access_token"], access_key.key, algorithms=["RS256"], audience=live_server, issuer=live_server)
    assert claims["sub"] == user.sub
    assert claims["client_id"] == registered.client_id
    assert set(claims["scope"].split()) == {"openid", "profile", "email", "offline_access"}
    assert {"exp", "iat", "jti"} <= claims.keys()

    id_claims = jwt.decode(
        token["id_token"], jwks.get_signing_key_from_jwt(token["id_token"]).key, algorithms=["RS256"],
        audience=registered.client_id, issuer=live_server,
    )
    assert id_claims["sub"] == user.sub
    assert id_claims["nonce"] == "n-0S6_WzA2Mj"
    assert id_claims["amr"] == ["pwd"]
    assert {"auth_time", "at_hash", "exp", "iat"} <= id_claims.keys()

    info = rp.get(metadata["userinfo_endpoint"]).json()
    assert info == {"sub": user.sub, "name": "Alice", "preferred_username": "alice@example.com",
                    "updated_at": info["updated_at"], "email": "alice@example.com", "email_verified": False}

    refreshed = rp.refresh_token(metadata["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]

    revoked = rp.revoke_token(metadata["revocation_endpoint"], refreshed["refresh_token"], token_type_hint="refresh_token")
    assert revoked.status_code == 200
    introspected = requests.post(
        metadata["introspection_endpoint"], data={"token": refreshed["access_token"]},
        auth=(registered.client_id, registered.client_secret),
    ).json()
    assert introspected == {"active": False}


def test_client_credentials_token_verifies_offline(live_server, make):
    machine = make.machine(scope="api:read api:write")
    response = requests.post(
        f"{live_server}/oauth/token", data={"grant_type": "client_credentials", "scope": "api:read"},
        auth=(machine.client_id, machine.client_secret),
    )
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert "refresh_token" not in body and body["scope"] == "api:read"
    key = jwt.PyJWKClient(f"{live_server}/.well-known/jwks.json").get_signing_key_from_jwt(body["access_token"])
    claims = jwt.decode(body["access_token"], key.key, algorithms=["RS256"], audience=live_server, issuer=live_server)
    assert claims["sub"] == machine.client_id == claims["client_id"]
    assert create_s256_code_challenge  # Authlib's PKCE helper stays importable for RPs
