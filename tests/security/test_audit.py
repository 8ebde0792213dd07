"""Point 11: every security event leaves a row and a structured log line (who, what, when, from where, which
client), and no secret the test used appears in either."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from app.extensions import db
from app.logs import JSONFormatter
from app.models import AuditEvent
from app.services import audit
from tests.factories import DEFAULT_PASSWORD
from tests.flows import (
    Browser,
    assert_oauth_error,
    authorization_params,
    client_credentials,
    csrf_token,
    exchange_code,
    pkce_pair,
    query_of,
    refresh,
    revoke,
)

WRONG_PASSWORDS = ["wrong-password-one", "wrong-password-two"]


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def stored_events(app) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return events


def test_security_events_are_audited_and_no_secret_is_ever_written(site, app, make, logs):
    user = make.user("audited@example.com")
    registered = make.client(post_logout_redirect_uris=["https://app.example.com/bye"])
    machine = make.machine()
    secrets: list[str] = [DEFAULT_PASSWORD, *WRONG_PASSWORDS, registered.client_secret, machine.client_secret]

    browser = Browser(site)
    assert browser.login("audited@example.com", WRONG_PASSWORDS[0]).status_code == 401
    assert browser.login("nobody@example.com", WRONG_PASSWORDS[1]).status_code == 401
    assert browser.login("audited@example.com").status_code == 302
    secrets.append(browser.session.cookies["ostiary_session"])

    verifier, challenge = pkce_pair()
    denied = browser.authorize(authorization_params(registered, challenge), decision="deny")
    assert query_of(denied.headers["Location"])["error"] == "access_denied"
    granted = browser.authorize(authorization_params(registered, challenge))
    code = query_of(granted.headers["Location"])["code"]
    tokens = exchange_code(site, registered, code, verifier).json()
    rotated = refresh(site, registered, tokens["refresh_token"]).json()
    make.rotated_long_ago(tokens["refresh_token"])  # past the retry grace window
    assert_oauth_error(refresh(site, registered, tokens["refresh_token"]), "invalid_grant")  # reuse
    secrets += [verifier, code, tokens["access_token"], tokens["refresh_token"], tokens["id_token"],
                rotated["access_token"], rotated["refresh_token"]]

    second_verifier, second_challenge = pkce_pair()
    second = browser.authorize(authorization_params(registered, second_challenge))
    second_tokens = exchange_code(site, registered, query_of(second.headers["Location"])["code"],
                                  second_verifier).json()
    assert revoke(site, registered, second_tokens["access_token"]).status_code == 200
    assert revoke(site, registered, second_tokens["refresh_token"]).status_code == 200
    secrets += [second_verifier, second_tokens["access_token"], second_tokens["refresh_token"]]

    machine_token = client_credentials(site, machine).json()["access_token"]
    api_key = make.api_key(user, name="laptop")
    key_token = client_credentials(site, api_key).json()["access_token"]
    secrets += [machine_token, api_key.client_secret, key_token]
    for attempt in range(app.config["CLIENT_AUTH_FAILURES_PER_IP"]):
        bad_secret = f"not-the-secret-{attempt}"
        secrets.append(bad_secret)
        assert client_credentials(site, machine.__class__(machine.client_id, bad_secret, "")).status_code == 401
    for attempt in range(app.config["SIGN_IN_FAILURES_PER_ACCOUNT"]):
        Browser(site).login("audited@example.com", f"guess-{attempt}-xyz")
        secrets.append(f"guess-{attempt}-xyz")

    page = browser.session.get(f"{site.base_url}/logout").text
    secrets.append(csrf_token(page))
    assert browser.session.post(f"{site.base_url}/logout", data={"csrf_token": csrf_token(page)},
                                allow_redirects=False).status_code == 302

    rp = Browser(site)
    rp.session.post(f"{site.base_url}/login", allow_redirects=False, data={
        "login": "audited@example.com", "password": DEFAULT_PASSWORD,
        "csrf_token": csrf_token(rp.session.get(f"{site.base_url}/login").text)})
    assert rp.session.cookies.get("ostiary_session") is None  # the account is locked now: no session
    events = stored_events(app)

    by_name = {}
    for event in events:
        by_name.setdefault((event.event, event.outcome), []).append(event)
    expected = {
        ("sign_in", "failure"): {"user_sub": user.sub}, ("sign_in", "success"): {"user_sub": user.sub},
        ("sign_in.locked_out", "failure"): {"user_sub": user.sub},
        ("consent.denied", "failure"): {"user_sub": user.sub, "client_id": registered.client_id},
        ("consent.granted", "success"): {"user_sub": user.sub, "client_id": registered.client_id},
        ("token.issued", "success"): {"user_sub": user.sub, "client_id": registered.client_id},
        ("token.refreshed", "success"): {"user_sub": user.sub, "client_id": registered.client_id},
        ("token.reuse_detected", "failure"): {"user_sub": user.sub, "client_id": registered.client_id},
        ("token.revoked", "success"): {"user_sub": user.sub, "client_id": registered.client_id},
        ("client.locked_out", "failure"): {"client_id": machine.client_id},
        ("sign_out", "success"): {"user_sub": user.sub},
    }
    for key, who in expected.items():
        assert key in by_name, (key, sorted(by_name))
        event = by_name[key][0]
        assert event.ip == "127.0.0.1" and event.at > 0 and event.request_id, key
        assert {name: getattr(event, name) for name in who} == who, key
    # The unknown login is audited without its name; the known one by subject only.
    assert [e.user_sub for e in by_name[("sign_in", "failure")]][:2] == [user.sub, None]
    assert len(by_name[("token.revoked", "success")]) == 2

    lines = [JSONFormatter().format(record) for record in logs.records]
    audit_lines = [json.loads(line) for line in lines if '"audit": true' in line]
    logged = {(line["msg"], line["outcome"]) for line in audit_lines}
    assert set(expected) | {("client.authentication_failed", "failure")} <= logged
    # client_credentials: a log line, no row (see ClientCredentialsGrant.save_token, app/oauth/grants.py).
    machine_lines = [line for line in audit_lines if line["client_id"] == machine.client_id
                     and line["msg"] == "token.issued"]
    assert machine_lines and machine_lines[0]["grant_type"] == "client_credentials" and machine_lines[0]["ip"]
    assert not [e for e in events if e.event == "token.issued" and e.client_id == machine.client_id]

    written = "\n".join(lines) + "\n".join(logs.messages) + "\n".join(
        json.dumps([e.event, e.outcome, e.user_sub, e.client_id, e.ip, e.request_id, e.details]) for e in events)
    leaked = [secret for secret in secrets if secret and secret in written]
    assert leaked == []


def test_a_log_only_event_writes_no_row(app, ctx, logs):
    audit.log_only("test.log_only", client_id="c")
    assert db.session.scalars(select(AuditEvent)).all() == []
    assert "test.log_only" in logs.messages


def test_an_event_rides_on_its_use_case_and_is_rolled_back_with_it(app, ctx):
    """Audit rows are never committed on their own: a use case that fails leaves no trace of a success."""
    from app.services.transaction import transaction

    with pytest.raises(RuntimeError), transaction():
        audit.record("test.rolled_back", client_id="c")
        raise RuntimeError("the use case failed")
    assert db.session.scalars(select(AuditEvent)).all() == []
    with transaction():
        audit.record("test.committed", client_id="c")
    db.session.rollback()
    assert [e.event for e in db.session.scalars(select(AuditEvent))] == ["test.committed"]
