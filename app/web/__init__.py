"""HTTP layer: thin views over app.oauth and app.services."""

from __future__ import annotations

from flask import Flask

from app.web import account_apps, brand, errors, headers, hosts, i18n, metrics, request_log  # noqa: F401 (routes)
from app.web.account import bp as account_bp
from app.web.account_security import bp as account_security_bp
from app.web.admin_api import bp as admin_api_bp
from app.web.federation import bp as federation_bp
from app.web.health import bp as health_bp
from app.web.json_provider import BoundedJSONProvider
from app.web.mfa import bp as mfa_bp
from app.web.oauth import bp as oauth_bp
from app.web.oidc import bp as oidc_bp
from app.web.pages import bp as pages_bp
from app.web.registration import bp as registration_bp
from app.web.self_service import bp as self_service_bp
from app.web.session_cookie import SessionCookie


def register_blueprints(app: Flask) -> None:
    app.json = BoundedJSONProvider(app)
    app.session_interface = SessionCookie()
    app.register_blueprint(pages_bp)
    app.register_blueprint(oauth_bp)
    app.register_blueprint(oidc_bp)
    app.register_blueprint(registration_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(admin_api_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(self_service_bp)
    app.register_blueprint(mfa_bp)
    app.register_blueprint(account_security_bp)
    app.register_blueprint(federation_bp)
    i18n.init_app(app)  # Flask-Babel: the language of every page and message
    brand.init_app(app)  # OSTIARY_BRAND_*: the template context of every page, /brand.css and /brand/logo
    metrics.init_app(app)  # first hooks: the request clock starts before any other hook can fail
    request_log.init_app(app)
    hosts.init_app(app)  # before anything reads the session or the database
    headers.init_app(app)
    errors.init_app(app)
