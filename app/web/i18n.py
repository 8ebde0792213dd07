"""The pages' language (Flask-Babel): ui_locales of the authorization or logout request, else Accept-Language."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Flask, has_request_context, request, url_for
from flask_babel import Babel
from werkzeug.exceptions import HTTPException

from app import locales

# Endpoints that take ui_locales themselves (OpenID Connect Core §3.1.2.1, RP-Initiated Logout 1.0 §2).
UI_LOCALES_ENDPOINTS = frozenset({"oauth.authorize", "oidc.end_session"})


def requested_ui_locales() -> str:
    """ui_locales of this request, or of the authorization request that sent the browser to sign in (`next`),
    so that the sign-in and consent pages of one authorization request speak one language."""
    try:
        values = request.values
    except HTTPException:
        return ""  # a body the request may not carry (413): its error page is chosen by Accept-Language
    if request.endpoint in UI_LOCALES_ENDPOINTS:
        return values.get("ui_locales", "")
    next_url = values.get("next", "")
    if next_url.startswith("/"):
        parts = urlsplit(next_url)
        if parts.path == url_for("oauth.authorize"):
            return parse_qs(parts.query).get("ui_locales", [""])[0]
    return ""


def select_locale() -> str:
    if not has_request_context():
        return locales.DEFAULT_LOCALE  # the CLI, the mail worker
    return (
        locales.negotiate(requested_ui_locales())
        or request.accept_languages.best_match(locales.supported())
        or locales.DEFAULT_LOCALE
    )


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_locale=locales.DEFAULT_LOCALE,
          default_translation_directories=str(locales.TRANSLATIONS_DIR))
    app.context_processor(lambda: {"html_lang": locales.current()})
