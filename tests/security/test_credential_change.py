"""A new password takes back what the old one let anyone obtain: sessions, refresh-token families with their
access tokens, codes not yet redeemed, and (when asked) API keys. From the account page, the admin API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import select

from app.cli import cli
from app.extensions import db
from app.models import AuditEvent
from tests.admin.conftest import admin_token
from tests.factories import DEFAULT_PASSWORD, RegisteredClient
from tests.flows import (
    Browser,
    assert_oauth_error,
    client_credentials,
    code_for,
    csrf_token,
    exchange_code,
    introspect,
    refresh,
    signed_in,
    tokens_for,
)
from tests.site import Site

EMAIL = "changer@example.com"
NEW_PASSWORD = "a brand new passphrase"


@dataclass
class Issued:
    """What the old password was worth: tokens of two apps, a code not yet redeemed and an API key."""

    rp: RegisteredClient
    tokens: dict
    id_only: dict  # an OpenID Connect sign-in without offline_access: an access token, no refresh token
    pending: tuple[str, str]
    key: RegisteredClient


@pytest.fixture
def issued(site, make) -> Issued:
    user = make.user(EMAIL, scope="api:read")
    rp = make.client()
    tokens = tokens_for(site, rp, EMAIL)
    id_only = tokens_for(site, rp, EMAIL, scope="openid profile")
    assert "refresh_token" not in id_only
    code, verifier, _ = code_for(site, rp, EMAIL)
    return Issued(rp, tokens, id_only, (code, verifier), make.api_key(user, scope="api:read"))


def assert_grants_revoked(site: Site, issued: Issued) -> None:
    assert_oauth_error(refresh(site, issued.rp, issued.tokens["refresh_token"]), "invalid_grant")
    assert introspect(site, issued.rp, issued.tokens["access_token"]) == {"active": False}
    assert introspect(site, issued.rp, issued.id_only["access_token"]) == {"active": False}
    assert_oauth_error(exchange_code(site, issued.rp, *issued.pending), "invalid_grant")


def key_works(site: Site, issued: Issued) -> bool:
    return client_credentials(site, issued.key).status_code == 200


def change_on_the_account_page(browser: Browser, **extra: str) -> requests.Response:
    token = csrf_token(browser.session.get(f"{browser.base_url}/account").text)
    return browser.session.post(f"{browser.base_url}/account/password", allow_redirects=False, data={
        "current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD,
        "csrf_token": token, **extra})


def test_changing_ones_password_revokes_every_grant_and_keeps_api_keys(site, app, issued):
    browser = signed_in(site, EMAIL)
    assert change_on_the_account_page(browser).status_code == 302
    assert_grants_revoked(site, issued)
    assert key_works(site, issued)
    assert browser.session.get(f"{site.base_url}/account", allow_redirects=False).status_code == 200
    assert Browser(site).login(EMAIL, NEW_PASSWORD).status_code == 302
    with app.app_context():
        changed = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "user.password_changed")).one()
        assert changed.details["api_keys_revoked"] == 0


def test_changing_ones_password_can_revoke_api_keys_too(site, app, issued):
    browser = signed_in(site, EMAIL)
    assert change_on_the_account_page(browser, revoke_api_keys="1").status_code == 302
    assert_grants_revoked(site, issued)
    assert not key_works(site, issued)
    page = browser.session.get(f"{site.base_url}/account").text
    assert "Your password was changed" in page and "1 API key was revoked" in page
    with app.app_context():
        events = [e.event for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert events[-2:] == ["api_key.revoked", "user.password_changed"]


@pytest.mark.parametrize("revoke_api_keys", [False, True])
def test_an_administrator_setting_a_password_revokes_every_grant(site, make, issued, revoke_api_keys):
    admin = make.user("root@example.com", roles=["admin"])
    api_key = make.api_key(admin, scope="ostiary:admin", name="ops")
    token = admin_token(site, api_key)
    sub = site.get("/admin/api/users", params={"q": EMAIL},
                       headers={"Authorization": f"Bearer {token}"}).json()["items"][0]["sub"]
    body = {"password": NEW_PASSWORD, **({"revoke_api_keys": True} if revoke_api_keys else {})}
    response = site.put(f"/admin/api/users/{sub}/password", json=body,
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 204, response.text
    assert_grants_revoked(site, issued)
    assert key_works(site, issued) is not revoke_api_keys


@pytest.mark.parametrize("revoke_api_keys", [False, True])
def test_the_cli_setting_a_password_revokes_every_grant(site, runner, issued, revoke_api_keys):
    flag = ["--revoke-api-keys"] if revoke_api_keys else []
    result = runner.invoke(cli, ["users", "set-password", EMAIL, "--password-stdin", *flag, "--json"],
                           input=NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    assert_grants_revoked(site, issued)
    assert key_works(site, issued) is not revoke_api_keys


def test_other_people_keep_what_they_were_issued(site, make, issued):
    make.user("bystander@example.com")
    theirs = tokens_for(site, issued.rp, "bystander@example.com")
    browser = signed_in(site, EMAIL)
    assert change_on_the_account_page(browser, revoke_api_keys="1").status_code == 302
    assert refresh(site, issued.rp, theirs["refresh_token"]).status_code == 200
