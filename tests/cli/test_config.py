"""One table of settings, validated at start-up: a bad OSTIARY_* variable is named, never guessed around."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from app import create_app
from app.cli import cli
from app.config import ConfigError, database_url, load_settings
from tests.processes import OSTIARY, ostiary
from tests.settings import as_env

BAD = [
    ("ISSUER", "ftp://x", "must be an absolute http(s) URL"),
    ("ISSUER", "http://example.com", "must use https"),
    ("ISSUER", "https://id.example.com/", "no path"),
    ("ISSUER", "https://id.example.com/tenant", "no path"),
    ("ISSUER", "https://id.example.com?tenant=1", "no path, query"),
    ("ISSUER", "https://id.example.com#x", "fragment"),
    ("ISSUER", "https://id.example.com:99999", "not a valid URL"),
    ("ISSUER", "https://admin:hunter2@id.example.com", "user information"),
    ("ISSUER", "https://id example.com", "absolute http(s) URL"),
    ("ISSUER", "id.example.com", "absolute http(s) URL"),
    ("ACCESS_TOKEN_TTL_SECONDS", "abc", "invalid"),
    ("ACCESS_TOKEN_TTL_SECONDS", "0", "positive"),
    ("ACCESS_TOKEN_TTL_SECONDS", "-600", "positive"),
    ("REFRESH_TOKEN_TTL_SECONDS", "1.5", "invalid"),
    ("REFRESH_FAMILY_MAX_SECONDS", "0", "positive"),
    ("REFRESH_REUSE_GRACE_SECONDS", "61", "at most 60"),
    ("REFRESH_REUSE_GRACE_SECONDS", "-1", "non-negative"),
    ("AUTHORIZATION_CODE_TTL_SECONDS", "600", "at most 60"),
    ("DATABASE_URL", "mysql://x", "must start with sqlite://"),
    ("DATABASE_URL", "ostiary.db", "must start with sqlite://"),
    ("SECRET_KEY", "short", "at least 32"),
    ("DATA_KEY", "short", "at least 32"),
    ("REQUIRE_MFA", "sometimes", "must be one of off, admins, everyone"),
    ("LOG_LEVEL", "chatty", "must be one of"),
    ("TRUSTED_PROXY_HOPS", "-1", "non-negative"),
    ("ARGON2_MEMORY_KIB", "lots", "invalid"),
    ("REGISTRATION", "sometimes", "expected one of off, token, open"),
    ("CIMD", "yes", "expected one of off, allowlist, open"),
    ("CIMD", "allowlist", "needs OSTIARY_CIMD_ALLOWED_HOSTS"),
    ("CIMD_ALLOWED_HOSTS", "https://claude.ai", "lower-case host name"),
    ("DYNAMIC_CLIENT_SCOPES", "openid ostiary:admin", "must not include ostiary:admin"),
]


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Only the variables a test sets; a wrongly accepted config still touches nothing outside tmp_path."""
    for name in [k for k in os.environ if k.startswith("OSTIARY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OSTIARY_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("OSTIARY_KEYS_DIR", str(tmp_path / "keys"))
    return tmp_path


@pytest.mark.parametrize(("name", "value", "message"), BAD)
def test_create_app_names_the_bad_variable(isolated, monkeypatch, name, value, message):
    monkeypatch.setenv(f"OSTIARY_{name}", value)
    with pytest.raises(ConfigError) as raised:
        create_app()
    assert str(raised.value).startswith(f"OSTIARY_{name}")
    assert message in str(raised.value)
    assert not (isolated / "keys").exists()


def test_secrets_in_a_bad_setting_are_not_echoed(isolated, monkeypatch):
    monkeypatch.setenv("OSTIARY_DATABASE_URL", "mysql://root:hunter2@db/ostiary")
    with pytest.raises(ConfigError, match="OSTIARY_DATABASE_URL") as raised:
        create_app()
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(("name", "value", "message"), BAD)
def test_the_cli_prints_the_bad_variable_without_a_traceback(isolated, name, value, message):
    result = CliRunner().invoke(cli, ["users", "list"], env={f"OSTIARY_{name}": value})
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(f"Error: OSTIARY_{name}") and message in result.stderr
    assert result.stdout == ""


@pytest.mark.slow
def test_the_installed_script_fails_fast_on_a_bad_variable(tmp_path):
    assert OSTIARY.exists()
    env = as_env({"ACCESS_TOKEN_TTL_SECONDS": "abc", "KEYS_DIR": tmp_path / "keys",
                  "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    result = ostiary(env, "users", "list")
    assert result.returncode == 2
    assert "OSTIARY_ACCESS_TOKEN_TTL_SECONDS" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "keys").exists()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ISSUER", "https://id.example.com", "https://id.example.com"),
        ("ISSUER", "http://localhost:8000", "http://localhost:8000"),
        ("ISSUER", "http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("ISSUER", "http://[::1]:5000", "http://[::1]:5000"),
        ("ACCESS_TOKEN_TTL_SECONDS", " 300 ", 300),
        ("TRUSTED_PROXY_HOPS", "1", 1),
        ("DATABASE_URL", "postgresql://u:p@db/ostiary", "postgresql://u:p@db/ostiary"),
        ("LOG_LEVEL", "debug", "debug"),
        ("REGISTRATION", " Open ", "open"),
        ("CIMD_ALLOWED_HOSTS", "claude.ai, chatgpt.com", ["claude.ai", "chatgpt.com"]),
    ],
)
def test_good_values_are_parsed(name, value, expected):
    assert load_settings({f"OSTIARY_{name}": value}, None)[name] == expected


def test_defaults_empty_values_and_override_precedence():
    defaults = load_settings({}, None)
    assert (defaults["ACCESS_TOKEN_TTL_SECONDS"], defaults["ISSUER"]) == (600, "http://localhost:8000")
    assert load_settings({"OSTIARY_ACCESS_TOKEN_TTL_SECONDS": ""}, None)["ACCESS_TOKEN_TTL_SECONDS"] == 600
    settings = load_settings({"OSTIARY_ACCESS_TOKEN_TTL_SECONDS": "60"}, {"ACCESS_TOKEN_TTL_SECONDS": 120})
    assert settings["ACCESS_TOKEN_TTL_SECONDS"] == 120


def test_overrides_are_validated_too():
    with pytest.raises(ConfigError, match="OSTIARY_ISSUER"):
        load_settings({}, {"ISSUER": "http://example.com"})


def test_the_bare_postgresql_scheme_means_psycopg_3():
    assert database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_a_valid_environment_builds_an_app(isolated, monkeypatch):
    monkeypatch.setenv("OSTIARY_ISSUER", "https://id.example.com")
    monkeypatch.setenv("OSTIARY_ACCESS_TOKEN_TTL_SECONDS", "120")
    app = create_app()
    assert (app.config["ISSUER"], app.config["ACCESS_TOKEN_TTL_SECONDS"]) == ("https://id.example.com", 120)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert list((isolated / "keys").glob("*.pem"))
