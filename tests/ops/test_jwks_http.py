"""The JWKS response for caches: Cache-Control max-age, a strong ETag of the body, 304 on If-None-Match."""

from __future__ import annotations

import hashlib

import pytest

JWKS = "/.well-known/jwks.json"


def test_jwks_is_publicly_cacheable_for_the_configured_max_age(client, app):
    response = client.get(JWKS)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == f"public, max-age={app.config['JWKS_MAX_AGE_SECONDS']}"
    etag = response.headers["ETag"]
    assert not etag.startswith("W/")  # strong: byte-identical bodies on every worker and node
    assert etag == '"' + hashlib.sha256(response.data).hexdigest()[:32] + '"'


@pytest.mark.parametrize("if_none_match", ["{etag}", 'W/{etag}', '"other", {etag}', "*"])
def test_a_matching_if_none_match_gets_304_with_no_body(client, if_none_match):
    etag = client.get(JWKS).headers["ETag"]
    response = client.get(JWKS, headers={"If-None-Match": if_none_match.format(etag=etag)})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag  # RFC 9110 §15.4.5: the validator and cache headers come back
    assert response.headers["Cache-Control"].startswith("public, max-age=")


def test_a_stale_etag_gets_the_current_key_set(client):
    response = client.get(JWKS, headers={"If-None-Match": '"0123456789abcdef0123456789abcdef"'})
    assert response.status_code == 200 and response.get_json()["keys"]
