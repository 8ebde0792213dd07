"""The browser's login session: a cookie with a random id, resolved on first use in a request and kept on g."""

from __future__ import annotations

from flask import current_app, g, request, session
from werkzeug.wrappers import Response as WerkzeugResponse

from app.models import LoginSession, User
from app.services import sessions
from app.services.authentication import SignedIn
from app.web.view_options import API, audience


def cookie_name() -> str:
    # The __Host- prefix pins the cookie to this host and path, over https only.
    return "__Host-ostiary_session" if _secure() else "ostiary_session"


def _secure() -> bool:
    return current_app.config["ISSUER"].startswith("https://")


def secure_cookies() -> bool:
    """Cookies are Secure (and may take the __Host- prefix) when the issuer is https."""
    return _secure()


def current_login_session() -> LoginSession | None:
    """The browser's live session, looked up when a view first asks (so a view that never does, like the token
    endpoint or a probe, costs no query and keeps answering while the database is down)."""
    if "login_session" not in g:
        g.login_session = _load()
    return g.login_session


def _load() -> LoginSession | None:
    if audience() == API:
        return None  # a machine API takes no authority from the browser's cookies
    if request.method == "HEAD":
        # RFC 9110 §9.2.1: HEAD is safe. A link preview or prefetch of an authorization URL must not act for the
        # person (a code, a consent) nor even refresh the session's last-seen time: it is answered as signed out.
        return None
    token = presented_cookie()
    return sessions.load(token) if token else None


def current_user() -> User | None:
    found = current_login_session()
    return found.user if found else None


def set_session_cookie(response: WerkzeugResponse, token: str) -> None:
    response.set_cookie(
        cookie_name(),
        token,
        max_age=current_app.config["SESSION_ABSOLUTE_TTL_SECONDS"],
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="Lax",
    )


def clear_session_cookie(response: WerkzeugResponse) -> None:
    response.delete_cookie(cookie_name(), path="/", secure=_secure(), httponly=True, samesite="Lax")


def presented_cookie() -> str | None:
    """The session cookie this browser sent, live or not: what a new sign-in replaces."""
    return request.cookies.get(cookie_name())


def begin_session(response: WerkzeugResponse, signed_in: SignedIn) -> WerkzeugResponse:
    """After a sign-in: the new session's cookie, and fresh CSRF state (nothing from before sign-in carries over)."""
    session.clear()
    g.login_session = None  # loaded from the new cookie on the browser's next request
    set_session_cookie(response, signed_in.session_token)
    return response


def forget_session(response: WerkzeugResponse) -> WerkzeugResponse:
    """After a sign-out: the browser forgets its session cookie and its CSRF state."""
    session.clear()
    g.login_session = None
    clear_session_cookie(response)
    return response
