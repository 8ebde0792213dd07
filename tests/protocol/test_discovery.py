"""OpenID Connect Discovery 1.0, RFC 8414 metadata, and the RFC 7517 key set behind them."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import time
from pathlib import Path

import jwt
import pytest
import requests

from app.security.keyring import KeyRing
from app.security.keys import ensure_secret_key, ensure_signing_key, generate_signing_key

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def rfc7638_thumbprint(jwk: dict) -> str:
    """RFC 7638 §3: SHA-256 of the required members in lexicographic order, no whitespace."""
    canonical = json.dumps({"e": jwk["e"], "kty": jwk["kty"], "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def metadata(live_server) -> dict:
    response = requests.get(f"{live_server}/.well-known/openid-configuration")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    return response.json()


def test_both_well_known_documents_are_identical(live_server):
    oidc = requests.get(f"{live_server}/.well-known/openid-configuration")
    oauth = requests.get(f"{live_server}/.well-known/oauth-authorization-server")
    assert oidc.content == oauth.content


def test_issuer_is_byte_identical_to_the_configured_one(app, live_server, metadata):
    assert metadata["issuer"] == app.config["ISSUER"] == live_server


def test_protocol_choices(metadata):
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["subject_types_supported"] == ["public"]
    assert "plain" not in json.dumps(metadata)
    assert set(metadata["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert "none" not in metadata["introspection_endpoint_auth_methods_supported"]
    assert {"openid", "profile", "email", "offline_access"} <= set(metadata["scopes_supported"])
    # OpenID Connect Core §5.5: read for the acr it asks of the sign-in; other claim requests are ignored.
    assert metadata["claims_parameter_supported"] is True
    assert metadata["request_parameter_supported"] is False and metadata["request_uri_parameter_supported"] is False


@pytest.mark.parametrize(
    ("name", "method", "alive"),
    [
        ("authorization_endpoint", "GET", {400}),
        ("token_endpoint", "POST", {400, 401}),
        ("userinfo_endpoint", "GET", {401}),
        ("jwks_uri", "GET", {200}),
        ("revocation_endpoint", "POST", {400, 401}),
        ("introspection_endpoint", "POST", {400, 401}),
        ("end_session_endpoint", "GET", {200}),
    ],
)
def test_every_advertised_endpoint_exists(live_server, metadata, name, method, alive):
    url = metadata[name]
    assert url.startswith(live_server + "/")
    response = requests.request(method, url, allow_redirects=False)
    assert response.status_code in alive, (url, response.status_code)


def test_jwks_publishes_public_rs256_signing_keys_only(live_server, metadata):
    response = requests.get(metadata["jwks_uri"])
    assert response.headers["Content-Type"] == "application/json"
    keys = response.json()["keys"]
    assert keys
    for jwk in keys:
        assert not PRIVATE_MEMBERS & jwk.keys(), jwk.keys()
        assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
        assert jwk["kid"] == rfc7638_thumbprint(jwk)
        assert b64url_int(jwk["n"]).bit_length() >= 2048
        assert b64url_int(jwk["e"]) == 65537


def test_tokens_are_signed_with_a_published_key(live_server, make):
    machine = make.machine()
    token = requests.post(
        f"{live_server}/oauth/token", data={"grant_type": "client_credentials"}, auth=(machine.client_id, machine.client_secret)
    ).json()["access_token"]
    kids = {k["kid"] for k in requests.get(f"{live_server}/.well-known/jwks.json").json()["keys"]}
    assert jwt.get_unverified_header(token)["kid"] in kids


def test_key_files_are_private(keys_dir: Path, app):
    files = [p for p in keys_dir.iterdir() if p.suffix == ".pem" or p.name == "flask-secret-key"]
    assert any(p.suffix == ".pem" for p in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_fresh_keys_dir_is_private_and_keys_are_named_by_kid(tmp_path: Path):
    keys_dir = tmp_path / "keys"
    ensure_signing_key(keys_dir)
    ensure_signing_key(keys_dir)  # idempotent
    ensure_secret_key(keys_dir)

    pems = list(keys_dir.glob("*.pem"))
    assert len(pems) == 1
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(pems[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((keys_dir / "flask-secret-key").stat().st_mode) == 0o600
    ring = KeyRing(keys_dir, retention_seconds=600)
    assert pems[0].stem.endswith("-" + ring.current.kid)
    assert ring.current.kid == rfc7638_thumbprint(json.loads(ring.jwks_json)["keys"][0])


def test_the_newest_key_signs_and_all_are_published(tmp_path: Path):
    ensure_signing_key(tmp_path)
    first = KeyRing(tmp_path, retention_seconds=600).current.kid
    generate_signing_key(tmp_path, activates_at=int(time.time()) + 1)  # activates after the first key

    ring = KeyRing(tmp_path, retention_seconds=600, clock=lambda: time.time() + 2)

    assert ring.current.kid != first
    assert {k["kid"] for k in json.loads(ring.jwks_json)["keys"]} == {first, ring.current.kid}
    assert ring.find(first) is not None and ring.find("unknown") is None
