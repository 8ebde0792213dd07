"""Ostiary: an OAuth 2.0 / OpenID Connect identity provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import database_pool, egress
from app.config import (
    check_secret_key,
    database_url,
    engine_options,
    environment,
    key_retention_seconds,
    load_settings,
    sqlite_path,
)
from app.extensions import db, migrate
from app.logs import configure_logging
from app.schema import MIGRATIONS_DIR
from app.security import throttle
from app.security.keyring import KeyRing
from app.security.keys import SECRET_KEY_FILE, create_private_file, ensure_secret_key, ensure_signing_key
from app.security.passwords import Passwords
from app.security.sealed import EXTENSION as SEALER
from app.security.sealed import Sealer


def secret_key(settings: dict[str, Any]) -> str:
    """OSTIARY_SECRET_KEY, else the generated file beside the signing keys; either must be long enough."""
    if settings["SECRET_KEY"]:
        return settings["SECRET_KEY"]
    keys_dir = Path(settings["KEYS_DIR"])
    return check_secret_key(ensure_secret_key(keys_dir), str(keys_dir / SECRET_KEY_FILE))


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = load_settings(environment(), overrides)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(settings)
    keys_dir = Path(settings["KEYS_DIR"])
    app.config.update(
        SECRET_KEY=secret_key(settings),
        SQLALCHEMY_DATABASE_URI=database_url(settings["DATABASE_URL"]),
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings),
        MAX_CONTENT_LENGTH=settings["MAX_CONTENT_LENGTH_BYTES"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["ISSUER"].startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,
    )
    configure_logging(settings["LOG_LEVEL"])
    if settings["TRUSTED_PROXY_HOPS"]:
        hops = settings["TRUSTED_PROXY_HOPS"]
        # Address and scheme from our own proxies; never X-Forwarded-Host, which a proxy may pass on from the client.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    database_file = sqlite_path(app.config["SQLALCHEMY_DATABASE_URI"])
    if database_file is not None and database_file.parent.is_dir():
        create_private_file(database_file)  # SQLite would create it world-readable; it holds password hashes
    db.init_app(app)
    with app.app_context():
        database_pool.install(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)

    ensure_signing_key(keys_dir)  # first start: a key is needed to sign anything
    app.extensions["ostiary.keyring"] = KeyRing(
        keys_dir, retention_seconds=key_retention_seconds(settings), rescan_seconds=settings["KEY_RESCAN_SECONDS"]
    )
    egress.init_app(app)
    app.extensions[SEALER] = Sealer(settings["DATA_KEY"] or app.config["SECRET_KEY"], settings["DATA_KEYS_RETIRED"])
    app.extensions["ostiary.passwords"] = Passwords(
        settings["ARGON2_TIME_COST"], settings["ARGON2_MEMORY_KIB"], settings["ARGON2_PARALLELISM"]
    )
    from app import models  # noqa: F401  (register tables with the metadata)
    from app.oauth import config_oauth
    from app.services import client_cache_invalidation
    from app.web import csrf_check, register_blueprints

    config_oauth(app)
    client_cache_invalidation.init_app(app)
    register_blueprints(app)
    # After the blueprints' hooks: the request clock and id start before a CSRF refusal can end a request.
    csrf_check.init_app(app)
    throttle.init_app(app)
    return app
