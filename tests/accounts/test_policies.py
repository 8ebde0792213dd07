"""Invitations from the admin API and the CLI, prompt=create in discovery, the verified-email policy, settings."""

from __future__ import annotations

import pytest

from app.cli import cli
from app.cli.demo import create_demo
from app.config import ConfigError, load_settings, signup_policy
from app.services import users
from tests.accounts.conftest import link_in, mails
from tests.admin.conftest import admin, admin_key, api, ok, refused  # noqa: F401 - fixtures
from tests.factories import DEFAULT_PASSWORD
from tests.flows import Browser, authorization_params, pkce_pair


def test_admin_api_invites_once_per_address(api, app, make):  # noqa: F811
    assert ok(api.post("/users/invitations", json={"email": "Guest@Example.com", "name": "Guest"}), 202) == {
        "email": "guest@example.com", "name": "Guest"}
    assert [m.template for m in mails(app, "guest@example.com")] == ["invitation"]
    make.user("member@example.com")
    refused(api.post("/users/invitations", json={"email": "member@example.com"}), 409, "conflict", "email")
    refused(api.post("/users/invitations", json={"email": "not an address"}), 400, "invalid_request", "email")


def test_cli_invites_and_the_invitee_sets_a_password(app, runner, client, post):
    result = runner.invoke(cli, ["users", "invite", "cli.guest@example.com", "--json"])
    assert result.exit_code == 0, result.output
    link = link_in(mails(app, "cli.guest@example.com", "invitation")[0])
    assert "cli.guest@example.com" in client.get(link).get_data(as_text=True)
    assert post("/invitation", page=link, token=link.split("token=")[1], new_password="short",
                confirm_password="short").status_code == 400  # the password rules, and the link stays usable
    assert post("/invitation", page=link, token=link.split("token=")[1], new_password=DEFAULT_PASSWORD,
                confirm_password=DEFAULT_PASSWORD).status_code == 302
    assert client.get(link).status_code == 400  # once
    assert post("/login", login="cli.guest@example.com", password=DEFAULT_PASSWORD).status_code == 302


@pytest.mark.parametrize("policy, advertised", [(None, True), ("open", True), ("invite", False), ("closed", False)])
def test_prompt_create_is_advertised_while_sign_up_is_open(app, client, monkeypatch, policy, advertised):
    monkeypatch.setitem(app.config, "SIGNUP", policy)
    values = client.get("/.well-known/openid-configuration").get_json()["prompt_values_supported"]
    assert ("create" in values) is advertised


def test_prompt_create_opens_sign_up_and_returns_to_the_request(client, make):
    registered = make.client()
    params = authorization_params(registered, pkce_pair()[1], prompt="create")
    answer = client.get("/oauth/authorize", query_string=params)
    assert answer.status_code == 302 and answer.location.startswith("/signup?next=")
    assert "prompt" not in answer.location.partition("next=")[2].replace("%3F", "?").split("?", 1)[1]


def test_prompt_create_is_invalid_where_sign_up_is_closed(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNUP", "closed")
    registered = make.client()
    answer = client.get("/oauth/authorize", query_string=authorization_params(registered, pkce_pair()[1],
                                                                                prompt="create"))
    assert answer.status_code == 302 and "error=invalid_request" in answer.location


@pytest.mark.parametrize("require, prompt, outcome", [
    (False, None, "consent"), (True, None, "confirm"), (True, "none", "interaction_required"),
])
def test_the_verified_email_policy_keeps_unconfirmed_accounts_out_of_apps(app, live_server, make, monkeypatch,
                                                                          require, prompt, outcome):
    monkeypatch.setitem(app.config, "REQUIRE_VERIFIED_EMAIL", require)
    make.user("unconfirmed@example.com")
    registered = make.client()
    browser = Browser(live_server)
    browser.login("unconfirmed@example.com", DEFAULT_PASSWORD)
    params = authorization_params(registered, pkce_pair()[1], **({"prompt": prompt} if prompt else {}))
    answer = browser.session.get(f"{live_server}/oauth/authorize", params=params, allow_redirects=False)
    if outcome == "consent":
        assert answer.status_code == 200 and "wants to access your account" in answer.text
    elif outcome == "confirm":
        assert answer.status_code == 403 and "Send a new confirmation link" in answer.text
    else:
        assert answer.status_code == 302 and "error=interaction_required" in answer.headers["Location"]


@pytest.mark.parametrize("name, value", [("SIGNUP", "maybe"), ("SIGNUP_ALLOWED_DOMAINS", "Example.COM"),
                                         ("SIGNUP_ALLOWED_DOMAINS", "münchen.de"), ("REQUIRE_VERIFIED_EMAIL", "perhaps")])
def test_bad_settings_stop_the_start_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=f"OSTIARY_{name}"):
        load_settings({f"OSTIARY_{name}": value}, {"SECRET_KEY": "x" * 40})


@pytest.mark.parametrize("issuer, policy", [("http://localhost:8000", "open"), ("https://id.example.com", "closed")])
def test_sign_up_is_open_on_the_embedded_demo_only(issuer, policy):
    assert signup_policy(load_settings({}, {"ISSUER": issuer, "SECRET_KEY": "x" * 40})) == policy


def test_init_demo_prints_the_sign_up_url_and_where_the_mail_goes(app):
    with app.app_context():
        demo = create_demo()
        assert demo["signup_url"] == f"{app.config['ISSUER']}/signup"
        assert app.config["MAIL_DIR"] in demo["instructions"]
        assert users.find_by_email("admin@example.com").email_verified
