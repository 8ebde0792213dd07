"""Flask-WTF's CSRF check, asked only on the way to a page: a machine API (@api) has no cookie to forge with."""

from __future__ import annotations

from flask import Flask, current_app

from app.extensions import csrf
from app.web.view_options import API, AUDIENCE, declared


def protect_pages() -> None:
    """What Flask-WTF's own hook does, decided first by the endpoint's declared audience: an @api view (the token
    and introspection hot path) pays for neither the check nor Flask-WTF's exemption look-up."""
    if declared(AUDIENCE) == API or not current_app.config["WTF_CSRF_ENABLED"]:
        return
    csrf.protect(apply_exemptions=True)  # views exempted one by one (authorize, end_session) check CSRF themselves


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    # Flask-WTF's switch for "no check unless asked": its hook then returns at once, and this one asks.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(protect_pages)
