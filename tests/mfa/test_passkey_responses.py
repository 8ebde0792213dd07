"""Passkeys through the pages' own endpoints, answered by a software authenticator (tests/mfa/authenticator.py):
several per account, named, used, removed; a malformed or oversized credential gets a readable page, never a 500."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Passkey
from tests.flows import csrf_token, sign_in
from tests.mfa.authenticator import SoftAuthenticator

PASSKEY_FAILED = "Signing in with a passkey did not work"
WRONG_FACTOR = "That did not work"
NOT_VERIFIED = "the passkey could not be verified"


def authenticator_for(app, **kwargs) -> SoftAuthenticator:
    issuer = app.config["ISSUER"]
    return SoftAuthenticator(origin=issuer, rp_id=urlsplit(issuer).hostname, **kwargs)


def ceremony(client, options_url: str, page_url: str) -> tuple[dict, str]:
    """The options a page's script fetches (with the page's CSRF token), and the page's CSRF token."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    answer = client.post(options_url, headers={"X-CSRFToken": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json(), token


def add_passkey(client, key: SoftAuthenticator, name: str = "Laptop", **wrong):
    body, token = ceremony(client, "/account/security/passkeys/options", "/account/security")
    return client.post("/account/security/passkeys", data={
        "csrf_token": token, "name": name, "credential": key.create(body["options"], **wrong),
        "challenge": body["challenge"]})


def passwordless_options(client) -> tuple[dict, str]:
    return ceremony(client, "/login/passkey-options", "/login")


def post_passwordless(client, credential: str, challenge: str, token: str):
    return client.post("/login/passkey", data={"csrf_token": token, "credential": credential,
                                               "challenge": challenge, "next": "/account"})


def passwordless(client, authenticator: SoftAuthenticator, **wrong):
    body, token = passwordless_options(client)
    return post_passwordless(client, authenticator.get(body["options"], **wrong), body["challenge"], token)


def signed_in(response) -> bool:
    return response.status_code == 302 and "ostiary_session=" in response.headers.get("Set-Cookie", "")


def failures(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.event).where(AuditEvent.outcome == "failure")
                                       .order_by(AuditEvent.id)))


def stored_passkeys(app) -> list[Passkey]:
    with app.app_context():
        found = list(db.session.scalars(select(Passkey).order_by(Passkey.id)))
        db.session.expunge_all()
        return found


@pytest.fixture
def owner(app, make):
    """An account that signed in with its password and added one passkey on the account page."""
    make.user("keys@example.com")
    client = app.test_client()
    assert sign_in(client, "keys@example.com").status_code == 302
    key = authenticator_for(app)
    added = add_passkey(client, key)
    assert added.status_code == 200 and "Your recovery codes" in added.get_data(as_text=True)
    return key


def test_several_passkeys_named_with_their_last_use_and_removable(app, make):
    make.user("many@example.com")
    client = app.test_client()
    assert sign_in(client, "many@example.com").status_code == 302
    laptop, phone = authenticator_for(app), authenticator_for(app, user_verified=False)
    assert add_passkey(client, laptop, "Laptop").status_code == 200
    assert add_passkey(client, phone, "Phone").status_code == 302  # recovery codes come with the first only
    page = client.get("/account/security").get_data(as_text=True)
    assert "Laptop" in page and "Phone" in page
    first, second = stored_passkeys(app)
    assert (first.name, first.user_verified, second.name, second.user_verified) == ("Laptop", True, "Phone", False)

    assert signed_in(passwordless(app.test_client(), laptop))
    first, second = stored_passkeys(app)
    assert first.last_used_at is not None and first.sign_count == 1 and second.last_used_at is None

    removed = client.post(f"/account/security/passkeys/{first.id}/remove", data={"csrf_token": csrf_token(page)})
    assert removed.status_code == 302
    assert [found.name for found in stored_passkeys(app)] == ["Phone"]
    assert not signed_in(passwordless(app.test_client(), laptop))
    assert "passkey.assertion_refused" in failures(app)


MALFORMED = ["", "{", "[]", "null", '"text"', '{"rawId": 5}', '{"rawId": "AAAA", "response": 1}',
             '{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"clientDataJSON": "%%%"}}',
             "x" * 20_000, '{"rawId": "' + "A" * 2000 + '"}', '{"rawId": "\\ud800"}']


@pytest.mark.parametrize("credential", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_credentials_get_a_page_never_a_500(app, make, owner, credential):
    client = app.test_client()
    body, token = passwordless_options(client)
    assert post_passwordless(client, credential, body["challenge"], token).status_code == 401

    make.user("malformed@example.com")
    client = app.test_client()
    sign_in(client, "malformed@example.com")
    body, token = ceremony(client, "/account/security/passkeys/options", "/account/security")
    added = client.post("/account/security/passkeys", data={"csrf_token": token, "name": "Key",
                                                           "credential": credential, "challenge": body["challenge"]})
    assert added.status_code == 400 and NOT_VERIFIED in added.get_data(as_text=True)

    client = app.test_client()
    sign_in(client, "keys@example.com")
    body, token = ceremony(client, "/login/second-factor/passkey-options", "/login/second-factor")
    second = client.post("/login/second-factor", data={"csrf_token": token, "method": "passkey",
                                                       "credential": credential, "challenge": body["challenge"]})
    assert second.status_code == 401 and WRONG_FACTOR in second.get_data(as_text=True)
