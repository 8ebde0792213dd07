"""The `ostiary` console script: the installed entry point as a subprocess, error tables in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import cli
from tests.factories import DEFAULT_PASSWORD
from tests.processes import ok_json, ostiary


def database_bytes(env: dict[str, str]) -> bytes:
    return Path(env["OSTIARY_DATABASE_URL"].removeprefix("sqlite:///")).read_bytes()


def test_init_again_changes_nothing(env):
    keys = sorted(Path(env["OSTIARY_KEYS_DIR"]).glob("*.pem"))
    again = ok_json(ostiary(env, "init", "--json"))
    assert again == {"database": "migrated", "kid": keys[0].stem.partition("-")[2]}
    assert sorted(Path(env["OSTIARY_KEYS_DIR"]).glob("*.pem")) == keys


def test_init_demo_creates_an_admin_and_a_client_once(env):
    first = ok_json(ostiary(env, "init", "--demo", "--json"))["demo"]
    assert first["admin_email"] == "admin@example.com" and len(first["admin_password"]) >= 12
    assert first["client_id"] and first["client_secret"]

    second = ok_json(ostiary(env, "init", "--demo", "--json"))["demo"]
    assert second["client_id"] == first["client_id"]
    assert "admin_password" not in second and "client_secret" not in second
    assert first["client_secret"].encode() not in database_bytes(env)


def test_users_create_reads_the_password_from_stdin(env):
    created = ok_json(ostiary(env, "users", "create", "Carol@Example.com", "--name", "Carol", "--password-stdin", "--json",
                          stdin=DEFAULT_PASSWORD + "\n"))
    assert (created["email"], created["name"], created["is_active"]) == ("carol@example.com", "Carol", True)

    listed = ok_json(ostiary(env, "users", "list", "--json"))
    assert {"sub": created["sub"], "email": "carol@example.com"}.items() <= next(
        u for u in listed if u["email"] == "carol@example.com").items()
    assert DEFAULT_PASSWORD.encode() not in database_bytes(env)


def test_without_a_terminal_the_password_must_come_on_stdin(env):
    result = ostiary(env, "users", "create", "dave@example.com")
    assert result.returncode != 0
    assert "--password-stdin" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_clients_create_prints_the_secret_once_and_stores_a_digest(env):
    created = ok_json(ostiary(env, "clients", "create", "--name", "Web App", "--redirect-uri", "https://app.example/cb",
                          "--redirect-uri", "http://127.0.0.1:9000/cb", "--json"))
    assert created["client_id"] and len(created["client_secret"]) >= 40
    assert created["redirect_uris"] == ["https://app.example/cb", "http://127.0.0.1:9000/cb"]
    assert created["public"] is False
    assert created["client_secret"].encode() not in database_bytes(env)

    public = ok_json(ostiary(env, "clients", "create", "--name", "SPA", "--public", "--redirect-uri",
                         "https://spa.example/cb", "--json"))
    assert public["client_secret"] is None and public["public"] is True

    listed = ok_json(ostiary(env, "clients", "list", "--json"))
    assert {c["client_id"] for c in listed} >= {created["client_id"], public["client_id"]}
    assert all("client_secret" not in c for c in listed)


def test_a_database_that_was_never_initialised_is_a_clear_error(env, tmp_path):
    result = ostiary(env | {"OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}, "users", "list")
    assert result.returncode == 1
    assert "ostiary init" in result.stderr and "Traceback" not in result.stderr


# In-process, on the test database: the many ways input can be refused.


def invoke(runner, *args: str, stdin: str | None = None):
    return runner.invoke(cli, list(args), input=stdin)


def assert_clean_failure(result, message: str, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # anything else would be a traceback
    assert message in result.stderr, result.stderr
    assert result.stderr.startswith(("Error: ", "Usage: ")) and result.stdout == ""


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "create", "erin@example.com", "--password-stdin"], "short\n", "at least 8 characters"),
        (["users", "create", "erin@example.com", "--password-stdin"], "\n", "at least 8 characters"),
        (["users", "create", "not-an-email", "--password-stdin"], DEFAULT_PASSWORD, "email is not a valid address"),
        (["users", "create", "erin@example.com", "--username", "bad name", "--password-stdin"], DEFAULT_PASSWORD, "username"),
    ],
)
def test_users_create_refuses_bad_input(runner, args, stdin, message):
    assert_clean_failure(invoke(runner, *args, stdin=stdin), message)


def test_a_duplicate_email_is_refused(runner):
    first = invoke(runner, "users", "create", "frank@example.com", "--password-stdin", stdin=DEFAULT_PASSWORD)
    assert first.exit_code == 0, first.output
    again = invoke(runner, "users", "create", "FRANK@example.com", "--password-stdin", stdin=DEFAULT_PASSWORD)
    assert_clean_failure(again, "already exists")


def test_no_terminal_is_a_usage_error(runner):
    assert_clean_failure(invoke(runner, "users", "create", "gina@example.com"), "--password-stdin", exit_code=2)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--redirect-uri", "https://app.example/cb#x"], "must not contain a fragment"),
        (["--redirect-uri", "http://app.example/cb"], "must be https"),
        (["--redirect-uri", "garbage"], "must be https"),
        (["--redirect-uri", "https://app.example:99999/cb"], "is not a valid URI"),
        (["--redirect-uri", "https://app.example/c b"], "is not a valid URI"),
        (["--redirect-uri", "javascript:alert(1)"], "must be https"),
        (["--post-logout-redirect-uri", "http://evil.example/", "--redirect-uri", "https://a.example/cb"],
         "must be https"),
        ([], "needs at least one redirect URI"),
        (["--public", "--grant-type", "client_credentials"], "cannot use client_credentials"),
        (["--redirect-uri", "https://a.example/cb", "--scope", 'openid "quoted"'], "is malformed"),
    ],
)
def test_clients_create_refuses_bad_registrations(runner, extra, message):
    assert_clean_failure(invoke(runner, "clients", "create", "--name", "X", *extra), message)


def test_list_commands_are_empty_json_lists_on_a_fresh_database(runner):
    for group in ("users", "clients"):
        result = invoke(runner, group, "list", "--json")
        assert (result.exit_code, json.loads(result.stdout)) == (0, [])
