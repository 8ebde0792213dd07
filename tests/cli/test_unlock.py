"""`ostiary users unlock`: lift a sign-in lockout (OWASP ASVS V2.2.1) before its period ends, audited."""

from __future__ import annotations

import json
import uuid

import pytest

from app.cli import cli
from tests.factories import DEFAULT_PASSWORD
from tests.flows import sign_in
from tests.security.test_brute_force import REDIS_URL, needs_redis

LIMITS = {"SIGN_IN_FAILURES_PER_ACCOUNT": 3, "SIGN_IN_FAILURES_PER_IP": 10**6, "SIGN_IN_LOCKOUT_SECONDS": 600}


def lock_out(node, login: str) -> None:
    client = node.test_client()
    for _ in range(LIMITS["SIGN_IN_FAILURES_PER_ACCOUNT"]):
        assert sign_in(client, login, "wrong password!").status_code == 401
    assert sign_in(client, login).status_code == 429


def unlock(node, login: str):
    result = node.test_cli_runner().invoke(cli, ["users", "unlock", login, "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout), result.stderr


def test_unlock_lets_a_locked_out_person_sign_in_again(make, build_app):
    node = build_app(**LIMITS)
    kim = make.user("kim@example.com", username="kim")
    lock_out(node, "kim")
    unlocked, warning = unlock(node, "kim@example.com")
    assert unlocked == {"sub": kim.sub, "failures_cleared": 3}
    assert sign_in(node.test_client(), "kim@example.com", DEFAULT_PASSWORD).status_code == 302
    # Each process counts alone without Redis: the operator is told the command reaches only its own counters.
    assert "OSTIARY_REDIS_URL" in warning

    audit = node.test_cli_runner().invoke(cli, ["audit", "list", "--event", "user.unlocked", "--json"])
    [event] = json.loads(audit.stdout)
    assert (event["user_sub"], event["details"]) == (kim.sub, {"actor": "cli", "failures_cleared": 3})


def test_unlocking_an_account_that_is_not_locked_says_so(make, build_app):
    node = build_app(**LIMITS)
    make.user("lee@example.com")
    result = node.test_cli_runner().invoke(cli, ["users", "unlock", "lee@example.com"])
    assert result.exit_code == 0 and "no failed sign-ins" in result.stdout


@pytest.mark.parametrize("who", ["nobody@example.com"])
def test_unlock_names_a_person(make, build_app, who):
    result = build_app(**LIMITS).test_cli_runner().invoke(cli, ["users", "unlock", who])
    assert result.exit_code == 1 and result.stderr == f"Error: no user '{who}'\n"


@needs_redis
def test_with_redis_the_command_lifts_the_lockout_every_node_sees(make, build_app):
    """The command runs in a process of its own; with shared counters it reaches the server's."""
    server, command_line = build_app(REDIS_URL=REDIS_URL, **LIMITS), build_app(REDIS_URL=REDIS_URL, **LIMITS)
    login = f"redis-{uuid.uuid4().hex[:12]}@example.com"
    make.user(login)
    lock_out(server, login)
    unlocked, warning = unlock(command_line, login)
    assert unlocked["failures_cleared"] == 3 and warning == ""
    assert sign_in(server.test_client(), login).status_code == 302
