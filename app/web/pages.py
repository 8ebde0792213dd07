"""Hosted pages: home, sign in, sign out."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext

from app import metrics
from app.security.throttle import Throttled
from app.services import audit, clients, sessions, users
from app.web import rate_limits
from app.web.login_session import cookie_name, current_user, end_current_session, set_session_cookie
from app.web.redirects import safe_next

bp = Blueprint("pages", __name__)

INVALID_CREDENTIALS = lazy_gettext("Invalid credentials.")


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


def _login_page(next_url: str, login: str, error: str | None = None) -> str:
    return render_template(
        "login.html", next_url=next_url, login=login, error=error, client_name=_requesting_client_name(next_url),
        account_requested=_asks_for_an_account(next_url),
    )


@bp.route("/")
def home() -> str:
    return render_template("home.html", user=current_user())


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return _login_page(next_url, request.args.get("login_hint", "")[:320])
    login_name = request.form.get("login", "")[:320]
    account = users.find_by_login(login_name)
    try:
        attempt = rate_limits.sign_in_attempt(login_name, account)
    except Throttled as refused:
        return rate_limits.too_many_requests(_login_page(next_url, login_name, rate_limits.wait_message(refused)), refused)
    with attempt:
        user = users.authenticate(account, request.form.get("password", ""))
        if user is None:
            metrics.sign_in_failed()
            # Who was targeted, if the account exists; the typed login is not kept (it may be a mistyped password).
            rate_limits.failed(attempt, "sign_in", account.sub if account else None)
            # One message whatever failed: no hint whether the account exists.
            return _login_page(next_url, login_name, INVALID_CREDENTIALS), 401
    audit.record("sign_in", user_sub=user.sub)  # committed with the new session
    sessions.end(request.cookies.get(cookie_name()))  # a new sign-in never keeps the old session id alive
    token = sessions.start(user, ip=request.remote_addr, user_agent=request.user_agent.string)
    session.clear()  # fresh CSRF state: nothing from before sign-in carries over
    response = redirect(next_url)
    set_session_cookie(response, token)
    return response


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    if request.method == "GET":
        return render_template("logout.html", user=current_user(), params=[])
    user = current_user()
    if user is not None:
        audit.record("sign_out", user_sub=user.sub)  # committed as the session ends
    response = redirect(safe_next(request.form.get("next")))  # "Not you?" on the consent page: back to it
    end_current_session(response)
    session.clear()
    return response
