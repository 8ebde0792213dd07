"""Files and logs that hold secrets: private on disk, strong enough to use, never echoed by a database error."""

from __future__ import annotations

import logging
import os
import stat
import warnings
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.errors import SecurityWarning
from joserfc.jwk import RSAKey
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.config import ConfigError
from app.extensions import db
from app.security.keyring import KeyRing
from app.security.keys import SECRET_KEY_FILE, KeyFile, _write_private, ensure_signing_key
from tests.admin.conftest import admin_headers
from tests.cli.test_config import isolated  # noqa: F401  (fixture)
from tests.flows import csrf_token
from tests.processes import ostiary


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_init_creates_the_sqlite_database_and_keys_directory_private(tmp_path):
    """Item 16: the embedded database holds password hashes; like the keys, only the server's user may read it."""
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o755)  # as a checkout of the repository creates it
    keys.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")} | {
        "OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'ostiary.db'}", "OSTIARY_KEYS_DIR": str(keys),
    }
    result = ostiary(env, "init", "--json")
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "ostiary.db") == 0o600
    assert mode(keys) == 0o700
    assert all(mode(path) == 0o600 for path in keys.glob("*.pem"))


def _write_rsa_key(keys_dir: Path, bits: int, activates_at: int = 1) -> KeyFile:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc's warning about the short key is the point
        key = KeyFile(activates_at, RSAKey.import_key(pem).thumbprint())
    _write_private(keys_dir / key.name, pem)
    return key


def test_an_rsa_key_under_2048_bits_is_neither_published_nor_used(tmp_path, caplog):
    """Item 17: joserfc only warns about a short key; a 1024-bit key placed in keys/ must never sign or verify."""
    ensure_signing_key(tmp_path)
    weak = _write_rsa_key(tmp_path, 1024, activates_at=2)  # newer than the good key: it would be the signer
    with caplog.at_level(logging.ERROR, logger="app.security.keyring"):
        ring = KeyRing(tmp_path, retention_seconds=60, rescan_seconds=0)
    assert ring.current.kid != weak.kid
    assert ring.find(weak.kid) is None and weak.kid not in ring.jwks_json
    assert any("2048" in str(getattr(r, "error", "")) for r in caplog.records), caplog.records


@pytest.mark.parametrize("content", ["", "short", " " * 40])
def test_a_short_or_empty_secret_key_file_is_refused(isolated, content):  # noqa: F811
    """Item 17: the file signs CSRF tokens; an empty or short one would be used as is."""
    keys = isolated / "keys"
    keys.mkdir()
    (keys / SECRET_KEY_FILE).write_text(content)
    with pytest.raises(ConfigError, match="flask-secret-key"):
        create_app()


@pytest.mark.slow
def test_serve_refuses_a_short_secret_key_file_in_one_line(isolated):  # noqa: F811
    keys = isolated / "keys"
    keys.mkdir()
    (keys / SECRET_KEY_FILE).write_text("short")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")} | {
        "OSTIARY_DATABASE_URL": f"sqlite:///{isolated / 'x.db'}", "OSTIARY_KEYS_DIR": str(keys),
    }
    result = ostiary(env, "serve", "--port", "1")
    assert result.returncode == 2 and "flask-secret-key" in result.stderr and "Traceback" not in result.stderr


def test_database_errors_never_carry_sql_parameters(app, make, caplog):
    """Item 12: an IntegrityError's text names the statement, not the values bound to it (argon2id hashes)."""
    user = make.user("hidden@example.com")
    with app.app_context():
        stored_hash = db.session.execute(text("SELECT password_hash FROM users WHERE sub = :s"), {"s": user.sub}).scalar()
        with pytest.raises(IntegrityError) as raised:
            db.session.execute(
                text("INSERT INTO users (sub, email, password_hash, roles, scope, is_service_account, is_active,"
                     " email_verified, created_at, updated_at) VALUES (:sub, :email, :hash, '[]', '', false, true,"
                     " false, 0, 0)"),
                {"sub": user.sub, "email": "other@example.com", "hash": stored_hash},
            )
        db.session.rollback()
    assert stored_hash not in str(raised.value)


def test_a_server_error_logs_no_sql_parameters(app, make, caplog, monkeypatch):
    """Item 12: the unexpected-error handler logs what failed and where, never the values of the statement."""
    from app.services import users

    user = make.user("logged@example.com")
    secret_value = "argon2id-looking-secret-value"

    def failing_find(login: str):
        db.session.execute(text("INSERT INTO users (sub) VALUES (:sub)"), {"sub": user.sub, "x": secret_value})

    monkeypatch.setattr(users, "find_by_login", failing_find)
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = client.post("/login", data={"login": secret_value, "password": "x" * 12, "csrf_token": token})
    assert response.status_code == 500
    logged = "\n".join(record.getMessage() + str(record.exc_text or "") + str(record.__dict__) for record in caplog.records)
    assert secret_value not in logged
    assert user.sub not in logged


def test_deeply_nested_json_is_a_clear_400(app, make):
    """Item 14: 20,000 '[' would raise RecursionError inside the JSON parser; it is a malformed body, not a 500."""
    response = app.test_client().post("/admin/api/users", data="[" * 20000 + "]" * 20000,
                                      content_type="application/json", headers=admin_headers(app, make, "nested"))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
