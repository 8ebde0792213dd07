"""The second-step page under hostile forms: an unknown or missing method, a missing, malformed or oversized code,
no half sign-in at all. Each is a readable answer (the page again, or the sign-in page), audited, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.flows import csrf_token, sign_in
from tests.mfa.conftest import enrol_totp

FORMS = [
    {"method": "totp", "code": "1" * 5000},
    {"method": "totp", "code": "12345\x00"},
    {"method": "recovery_code", "code": "x" * 5000},
    {"method": "recovery_code"},
    {"method": "sms", "code": "123456"},
    {"method": "m" * 5000, "code": "123456"},
    {"code": "123456"},
    {"method": "passkey", "credential": "{}", "challenge": "x" * 5000},
]


@pytest.fixture
def half_signed_in(app, make):
    with app.app_context():
        enrol_totp(make.user("hostile@example.com"))
    client = app.test_client()
    assert "/login/second-factor" in sign_in(client, "hostile@example.com").location
    return client


@pytest.mark.parametrize("form", FORMS, ids=range(len(FORMS)))
def test_a_hostile_form_gets_the_page_again_and_is_audited(app, half_signed_in, form):
    token = csrf_token(half_signed_in.get("/login/second-factor").get_data(as_text=True))
    answer = half_signed_in.post("/login/second-factor", data={"csrf_token": token, "next": "/", **form})
    assert answer.status_code == 401 and "That did not work" in answer.get_data(as_text=True)
    with app.app_context():
        failed = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "sign_in.second_factor")).one()
    assert failed.outcome == "failure" and len(failed.details["method"]) <= 20
    assert half_signed_in.get("/account").status_code == 302  # still no session


def test_without_a_half_sign_in_the_step_is_the_sign_in_page(app):
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    answer = client.post("/login/second-factor", data={"csrf_token": token, "method": "totp", "code": "123456"})
    assert answer.status_code == 302 and answer.location.startswith("/login?")
    options = client.post("/login/second-factor/passkey-options", headers={"X-CSRFToken": token})
    assert options.status_code == 400 and options.get_json()["error"] == "invalid_request"


def test_passkey_options_for_an_account_without_passkeys_are_refused(half_signed_in):
    token = csrf_token(half_signed_in.get("/login/second-factor").get_data(as_text=True))
    options = half_signed_in.post("/login/second-factor/passkey-options", headers={"X-CSRFToken": token})
    assert options.status_code == 400 and set(options.get_json()) == {"error", "error_description"}
