"""Passkeys through the pages' own endpoints, answered by a software authenticator (tests/mfa/authenticator.py):
several per account, named, used, removed; and every wrong answer (another challenge, origin or relying party
id, a replayed assertion, a cloned authenticator, no user verification where it is required, a malformed or
oversized credential) refused with a readable page, audited, never a 500."""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEvent, OneTimeToken, Passkey
from app.security.secrets import digest
from tests.flows import csrf_token, sign_in
from tests.mfa.authenticator import SoftAuthenticator, b64url

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


@pytest.mark.parametrize("wrong, event", [
    ({"challenge": b64url(os.urandom(32))}, "passkey.assertion_refused"),
    ({"origin": "https://login.example.net"}, "passkey.assertion_refused"),
    ({"origin": "http://127.0.0.1:1"}, "passkey.assertion_refused"),
    ({"rp_id": "example.net"}, "passkey.assertion_refused"),
    ({"key": ec.generate_private_key(ec.SECP256R1())}, "passkey.assertion_refused"),
], ids=["another challenge", "another origin", "another port", "another relying party id", "another key"])
def test_a_wrong_assertion_is_refused_and_audited(app, owner, wrong, event):
    refused = passwordless(app.test_client(), owner, **wrong)
    assert refused.status_code == 401 and PASSKEY_FAILED in refused.get_data(as_text=True)
    assert not signed_in(refused)
    assert failures(app) == [event, "sign_in.passkey"]  # counted against the address like a wrong password
    assert stored_passkeys(app)[0].sign_count == 0


def test_passwordless_needs_the_person_verified(app, owner):
    owner.user_verified = False
    refused = passwordless(app.test_client(), owner)
    assert refused.status_code == 401 and failures(app) == ["passkey.assertion_refused", "sign_in.passkey"]


def test_a_replayed_assertion_is_refused(app, owner):
    client = app.test_client()
    body, token = passwordless_options(client)
    credential = owner.get(body["options"])
    assert signed_in(post_passwordless(client, credential, body["challenge"], token))
    again = app.test_client()
    _, token = passwordless_options(again)
    assert post_passwordless(again, credential, body["challenge"], token).status_code == 401  # its challenge is spent
    fresh, token = passwordless_options(again)
    assert post_passwordless(again, credential, fresh["challenge"], token).status_code == 401  # signed another one
    assert failures(app) == ["passkey.challenge_refused", "sign_in.passkey",
                             "passkey.assertion_refused", "sign_in.passkey"]


def test_a_counter_that_does_not_grow_is_a_cloned_authenticator(app, owner):
    assert signed_in(passwordless(app.test_client(), owner, sign_count=7))
    for count in (7, 3):
        refused = passwordless(app.test_client(), owner, sign_count=count)
        assert refused.status_code == 401 and PASSKEY_FAILED in refused.get_data(as_text=True)
    assert failures(app) == ["passkey.clone_suspected", "sign_in.passkey"] * 2
    assert stored_passkeys(app)[0].sign_count == 7


def test_an_expired_challenge_is_refused(app, owner):
    client = app.test_client()
    body, token = passwordless_options(client)
    with app.app_context():
        db.session.execute(update(OneTimeToken).where(OneTimeToken.token_hash == digest(body["challenge"]))
                           .values(expires_at=OneTimeToken.created_at))
        db.session.commit()
    assert post_passwordless(client, owner.get(body["options"]), body["challenge"], token).status_code == 401
    assert failures(app) == ["passkey.challenge_refused", "sign_in.passkey"]


def second_step_with(app, client, key: SoftAuthenticator, login: str, **wrong):
    """The password, then a passkey assertion on the second-step page."""
    assert "/login/second-factor" in sign_in(client, login).headers["Location"]
    body, token = ceremony(client, "/login/second-factor/passkey-options", "/login/second-factor")
    return client.post("/login/second-factor", data={
        "csrf_token": token, "method": "passkey", "credential": key.get(body["options"], **wrong),
        "challenge": body["challenge"], "next": "/account"})


def test_as_the_second_step_presence_is_enough_and_recorded(app, make):
    make.user("touch@example.com")
    client = app.test_client()
    sign_in(client, "touch@example.com")
    key = authenticator_for(app, user_verified=False)
    add_passkey(client, key)
    assert signed_in(second_step_with(app, app.test_client(), key, "touch@example.com"))
    stored = stored_passkeys(app)[0]
    assert stored.user_verified is False and stored.last_used_at is not None


def test_as_the_second_step_another_accounts_passkey_is_refused(app, make, owner):
    make.user("other@example.com")
    client = app.test_client()
    sign_in(client, "other@example.com")
    add_passkey(client, authenticator_for(app))
    refused = second_step_with(app, app.test_client(), owner, "other@example.com")
    assert refused.status_code == 401 and WRONG_FACTOR in refused.get_data(as_text=True)
    assert failures(app) == ["passkey.assertion_refused", "sign_in.second_factor"]


@pytest.mark.parametrize("wrong", [{"challenge": b64url(os.urandom(32))}, {"origin": "https://login.example.net"},
                                   {"rp_id": "example.net"}],
                         ids=["another challenge", "another origin", "another relying party id"])
def test_a_wrong_registration_is_refused_and_audited(app, make, wrong):
    make.user("adds@example.com")
    client = app.test_client()
    sign_in(client, "adds@example.com")
    refused = add_passkey(client, authenticator_for(app), **wrong)
    assert refused.status_code == 400 and NOT_VERIFIED in refused.get_data(as_text=True)
    assert stored_passkeys(app) == [] and failures(app) == ["passkey.registration_refused"]


def test_one_credential_is_registered_once(app, owner):
    client = app.test_client()
    assert signed_in(passwordless(client, owner))
    again = add_passkey(client, owner, "Again")
    assert again.status_code == 400 and NOT_VERIFIED in again.get_data(as_text=True)
    assert [found.name for found in stored_passkeys(app)] == ["Laptop"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "tab\there"])
def test_a_passkey_needs_a_short_printable_name(app, make, name):
    make.user("named@example.com")
    client = app.test_client()
    sign_in(client, "named@example.com")
    refused = add_passkey(client, authenticator_for(app), name)
    assert refused.status_code == 400 and "give the passkey a name" in refused.get_data(as_text=True)
    assert stored_passkeys(app) == []


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


def test_one_assertion_posted_at_once_signs_in_once(app, live_server, owner):
    """PostgreSQL in CI: the challenge is consumed by one conditional UPDATE, so one of many copies passes."""
    browser = requests.Session()
    token = csrf_token(browser.get(f"{live_server}/login").text)
    body = browser.post(f"{live_server}/login/passkey-options", headers={"X-CSRFToken": token}).json()
    form = {"csrf_token": token, "credential": owner.get(body["options"]), "challenge": body["challenge"], "next": "/"}
    parallel = 8
    barrier = threading.Barrier(parallel)

    def submit(_: int) -> int:
        barrier.wait()
        answer = requests.post(f"{live_server}/login/passkey", data=form, cookies=browser.cookies.get_dict(),
                               allow_redirects=False)
        assert answer.status_code < 500
        return answer.status_code if re.search(r"ostiary_session=\w", answer.headers.get("Set-Cookie", "")) else 0

    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(submit, range(parallel)))
    assert results.count(302) == 1, results
