"""Hosted pages: home, sign in, sign out."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext

from app.services import authentication, clients, federation
from app.services.authentication import EMAIL_UNCONFIRMED, THROTTLED, FactorRequired, Refused
from app.web import rate_limits
from app.web.login_session import current_login_session, current_user, forget_session, presented_cookie
from app.web.mfa import after_sign_in, ask_for_second_factor
from app.web.redirects import safe_next

bp = Blueprint("pages", __name__)

INVALID_CREDENTIALS = lazy_gettext("Invalid credentials.")
EMAIL_NOT_CONFIRMED = lazy_gettext("Confirm your email address first: follow the link we sent you.")


def _requesting_client_name(next_url: str) -> str | None:
    """The registered name of the client whose authorization request sent the browser to sign in."""
    parts = urlsplit(next_url)
    if parts.path != url_for("oauth.authorize"):
        return None
    client_id = parse_qs(parts.query).get("client_id", [""])[0]
    client = clients.get_client(client_id) if client_id.isprintable() else None  # PostgreSQL refuses NUL
    return client.name if client else None


def _asks_for_an_account(next_url: str) -> bool:
    """The authorization request carries an id_token_hint: only the person it names may continue."""
    parts = urlsplit(next_url)
    return parts.path == url_for("oauth.authorize") and "id_token_hint" in parse_qs(parts.query)


def _login_page(next_url: str, login: str, error: str | None = None, *, unconfirmed: bool = False) -> str:
    return render_template(
        "login.html", next_url=next_url, login=login, error=error, client_name=_requesting_client_name(next_url),
        account_requested=_asks_for_an_account(next_url), unconfirmed=unconfirmed,
    )


login_page = _login_page  # shown again by the other ways to sign in (app/web/mfa.py)


@bp.route("/")
def home() -> str:
    return render_template("home.html", user=current_user())


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if federation.enabled(request.args.get("idp_hint", "")):
            return redirect(url_for("federation.start", name=request.args["idp_hint"], next=next_url,
                                    login_hint=request.args.get("login_hint") or None))
        return _login_page(next_url, request.args.get("login_hint", "")[:320])
    login_name = request.form.get("login", "")[:320]
    outcome = authentication.sign_in(login_name, request.form.get("password", ""), ip=request.remote_addr,
                                     user_agent=request.user_agent.string, replacing=presented_cookie())
    if isinstance(outcome, Refused):
        if outcome.reason == THROTTLED:
            page = _login_page(next_url, login_name, rate_limits.wait_message(outcome.retry_after_seconds))
            return rate_limits.too_many_requests(page, outcome.retry_after_seconds)
        if outcome.reason == EMAIL_UNCONFIRMED:  # only with the right password: no hint to anyone else
            return _login_page(next_url, login_name, str(EMAIL_NOT_CONFIRMED), unconfirmed=True), 403
        # One message whatever failed: no hint whether the account exists.
        return _login_page(next_url, login_name, INVALID_CREDENTIALS), 401
    if isinstance(outcome, FactorRequired):
        return ask_for_second_factor(next_url, outcome)
    return after_sign_in(next_url, outcome)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("logout.html", user=current_user(), params=[])
    authentication.sign_out(current_login_session())
    return forget_session(redirect(safe_next(request.form.get("next"))))  # "Not you?" on the consent page: back to it
