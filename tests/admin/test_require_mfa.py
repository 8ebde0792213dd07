"""require_mfa on a client registration, from the command line and the admin API (one service): set, shown,
changed, refused when it is not a boolean; and the next authorization for that client asks for the second factor."""

from __future__ import annotations

import pytest

from app.cli import cli
from tests.admin.conftest import refused
from tests.admin.test_cli_parity import run
from tests.factories import RegisteredClient
from tests.mfa.conftest import password_only_session
from tests.mfa.relying_party import RelyingParty

REDIRECT_URI = "https://rp.example.com/callback"


def asks_for_a_second_factor(app, live_server, make, registered: RegisteredClient, email: str) -> bool:
    """A person with an app, signed in with the password only, is sent to the second step for this client (True),
    or shown the consent page (False)."""
    browser, _, _ = password_only_session(app, make, email)
    asked = browser.session.get(RelyingParty(live_server, registered).authorization_url(), allow_redirects=False)
    if asked.status_code == 302:
        assert asked.headers["Location"].startswith("/login/second-factor"), asked.headers["Location"]
        return True
    assert asked.status_code == 200 and 'name="decision"' in asked.text
    return False


def test_from_the_command_line(app, runner, live_server, make):
    created = run(runner, "clients", "create", "--name", "Payroll", "--redirect-uri", REDIRECT_URI, "--require-mfa",
                  "--json")
    assert created["require_mfa"] is True
    registered = RegisteredClient(created["client_id"], created["client_secret"], REDIRECT_URI)
    assert asks_for_a_second_factor(app, live_server, make, registered, "payroll@example.com")

    assert run(runner, "clients", "show", created["client_id"], "--json")["require_mfa"] is True
    assert run(runner, "clients", "update", created["client_id"], "--no-require-mfa", "--json")["require_mfa"] is False
    assert not asks_for_a_second_factor(app, live_server, make, registered, "relaxed@example.com")
    result = runner.invoke(cli, ["clients", "update", created["client_id"], "--require-mfa=yes"])
    assert result.exit_code == 2  # click: a flag takes no value


def test_from_the_admin_api(app, api, live_server, make):
    created = api.post("/clients", json={"name": "Payroll", "redirect_uris": [REDIRECT_URI], "require_mfa": True})
    assert created.status_code == 201 and created.json()["require_mfa"] is True
    client_id = created.json()["client_id"]
    registered = RegisteredClient(client_id, created.json()["client_secret"], REDIRECT_URI)
    assert asks_for_a_second_factor(app, live_server, make, registered, "payroll@example.com")

    changed = api.patch(f"/clients/{client_id}", json={"require_mfa": False})
    assert changed.status_code == 200 and changed.json()["require_mfa"] is False
    assert api.get(f"/clients/{client_id}").json()["require_mfa"] is False
    assert not asks_for_a_second_factor(app, live_server, make, registered, "relaxed@example.com")


@pytest.mark.parametrize("value", ["yes", 1, None, [True]])
def test_the_admin_api_refuses_a_require_mfa_that_is_not_a_boolean(api, value):
    refused(api.post("/clients", json={"name": "Odd", "redirect_uris": [REDIRECT_URI], "require_mfa": value}), 400,
            "invalid_request")
