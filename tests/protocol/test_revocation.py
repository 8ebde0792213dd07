"""RFC 7009 token revocation over real HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.flows import assert_oauth_error, introspect, refresh, revoke, tokens_for, userinfo

INACTIVE = {"active": False}


def test_revoking_a_refresh_token_kills_its_whole_family(site, rp, tokens):
    rotated = refresh(site, rp, tokens["refresh_token"]).json()

    response = revoke(site, rp, rotated["refresh_token"], token_type_hint="refresh_token")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    again = refresh(site, rp, rotated["refresh_token"])
    assert_oauth_error(again, "invalid_grant")
    for token in (tokens["access_token"], rotated["access_token"], rotated["refresh_token"], tokens["refresh_token"]):
        assert introspect(site, rp, token) == INACTIVE
    assert userinfo(site, rotated["access_token"]).status_code == 401


def test_revoking_an_access_token_by_jti_leaves_the_refresh_token_alone(site, rp, tokens):
    assert revoke(site, rp, tokens["access_token"], token_type_hint="access_token").status_code == 200

    assert_oauth_error(userinfo(site, tokens["access_token"]), "invalid_token", 401)
    assert introspect(site, rp, tokens["access_token"]) == INACTIVE
    # RFC 7009 §2.1 lets the server keep the grant alive when only an access token is revoked.
    assert introspect(site, rp, tokens["refresh_token"])["active"] is True


@pytest.mark.parametrize(
    ("kind", "hint"),
    [
        ("refresh_token", "access_token"),
        ("access_token", "refresh_token"),
        ("refresh_token", None),
        ("access_token", None),
    ],
)
def test_the_hint_only_orders_the_lookup(site, rp, tokens, kind, hint):
    extra = {"token_type_hint": hint} if hint else {}
    assert revoke(site, rp, tokens[kind], **extra).status_code == 200
    assert introspect(site, rp, tokens[kind]) == INACTIVE


@pytest.mark.parametrize(
    "token",
    [
        "never-issued",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "x" * 5000,
        "é-not-ascii",
    ],
)
@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
def test_unknown_or_garbage_tokens_are_a_success(site, rp, token, hint):
    """RFC 7009 §2.2: invalid tokens do not cause an error response."""
    extra = {"token_type_hint": hint} if hint else {}
    response = revoke(site, rp, token, **extra)
    assert response.status_code == 200, response.text


def test_a_token_already_revoked_is_still_a_success(site, rp, tokens):
    for _ in range(2):
        assert revoke(site, rp, tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("data", "credentials", "status", "error"),
    [
        ({"token": "t", "token_type_hint": "id_token"}, "basic", 400, "unsupported_token_type"),
        ({"token": "t", "token_type_hint": "ACCESS_TOKEN"}, "basic", 400, "unsupported_token_type"),
        ({}, "basic", 400, "invalid_request"),
        ({"token": ""}, "basic", 400, "invalid_request"),
        ({"token": ["t1", "t2"]}, "basic", 400, "invalid_request"),
        ({"token": "t"}, "wrong-secret-basic", 401, "invalid_client"),
        ({"token": "t"}, "wrong-secret-post", 401, "invalid_client"),
        ({"token": "t"}, "unknown-client", 400, "invalid_client"),  # RFC 6749 §5.2: 401 only after a header
        ({"token": "t"}, "client-id-only", 401, "invalid_client"),
        ({"token": "t"}, "none", 401, "invalid_client"),
    ],
)
def test_refused_requests(site, rp, data, credentials, status, error):
    auth = None
    if credentials == "basic":
        auth = (rp.client_id, rp.client_secret)
    elif credentials == "wrong-secret-basic":
        auth = (rp.client_id, "wrong")
    elif credentials == "wrong-secret-post":
        data = {**data, "client_id": rp.client_id, "client_secret": "wrong"}
    elif credentials == "unknown-client":
        data = {**data, "client_id": "no-such-client"}
    elif credentials == "client-id-only":  # a confidential client must authenticate
        data = {**data, "client_id": rp.client_id}

    response = site.post("/oauth/revoke", data=data, auth=auth)

    assert_oauth_error(response, error, status)  # a 401 with its Basic challenge


def test_revocation_needs_post(site, rp):
    response = site.get("/oauth/revoke", params={"token": "t"}, auth=(rp.client_id, rp.client_secret))
    assert response.status_code == 405


def test_a_public_client_revokes_its_own_token_with_its_client_id(site, make, rp):
    spa = make.client(public=True)
    tokens = tokens_for(site, spa, "alice@example.com")

    assert revoke(site, spa, tokens["refresh_token"]).status_code == 200

    assert_oauth_error(refresh(site, spa, tokens["refresh_token"]), "invalid_grant")
    assert introspect(site, make.machine(introspect_all=True), tokens["access_token"]) == INACTIVE


@pytest.mark.parametrize("kind", ["refresh_token", "access_token"])
def test_a_token_of_another_client_is_refused_and_stays_active(site, make, rp, tokens, kind):
    """RFC 7009 §2.1: the request is refused; RFC 6749 §5.2 names that case invalid_grant."""
    other = make.client(public=True)

    response = revoke(site, other, tokens[kind])

    assert_oauth_error(response, "invalid_grant")
    assert introspect(site, rp, tokens[kind])["active"] is True


def test_a_client_credentials_token_can_be_revoked(site, make):
    machine = make.machine()
    token = site.post(
        "/oauth/token", data={"grant_type": "client_credentials"},
        auth=(machine.client_id, machine.client_secret),
    ).json()["access_token"]
    assert introspect(site, machine, token)["active"] is True

    assert revoke(site, machine, token).status_code == 200

    assert introspect(site, machine, token) == INACTIVE


def test_concurrent_revocations_of_one_token_all_succeed(site, make):
    machine = make.machine()
    auth = (machine.client_id, machine.client_secret)
    for _ in range(3):
        token = site.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=auth
        ).json()["access_token"]
        with ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(revoke, [site] * 6, [machine] * 6, [token] * 6))
        assert {r.status_code for r in responses} == {200}
        assert introspect(site, machine, token) == INACTIVE
