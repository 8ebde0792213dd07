"""The sign-in's second step and passkey sign-in, as pages: the views parse the form, call
app/services/authentication.py and render. The half-signed-in state travels in its own short-lived cookie."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response as WerkzeugResponse

from app.security.throttle import Throttled, count_request, passkey_challenge_counter
from app.services import authentication, passkeys, pending_sign_ins
from app.services.authentication import EXPIRED, THROTTLED, FactorRequired, Refused, SignedIn
from app.web import rate_limits
from app.web.login_session import begin_session, presented_cookie, secure_cookies
from app.web.redirects import safe_next
from app.web.view_options import no_store

bp = Blueprint("mfa", __name__)
AFTER_ENROLMENT = "after_enrolment"  # where a person sent to set up a second factor continues afterwards

WRONG_FACTOR = lazy_gettext("That did not work. Check the code, or try another way.")
PASSKEY_FAILED = lazy_gettext("Signing in with a passkey did not work. Try again, or use your password.")


def cookie_name() -> str:
    return "__Host-ostiary_second_factor" if secure_cookies() else "ostiary_second_factor"


def ask_for_second_factor(next_url: str, outcome: FactorRequired) -> WerkzeugResponse:
    """After the password: the browser keeps its claim to the half-signed-in state and goes to the second step."""
    response = redirect(url_for("mfa.second_factor", next=next_url))
    response.set_cookie(cookie_name(), outcome.token, max_age=current_app.config["SECOND_FACTOR_TTL_SECONDS"], path="/",
                        secure=secure_cookies(), httponly=True, samesite="Lax")
    return response


def after_sign_in(next_url: str, outcome: SignedIn) -> WerkzeugResponse:
    """The session's cookie, and on to `next_url`; or first to set up a second factor a policy asks for."""
    if not outcome.must_enrol:
        return begin_session(redirect(next_url), outcome)
    response = begin_session(redirect(url_for("security.overview")), outcome)
    remember_after_enrolment(next_url)
    return response


def remember_after_enrolment(next_url: str) -> None:
    session[AFTER_ENROLMENT] = next_url


def after_enrolment() -> str | None:
    found = session.get(AFTER_ENROLMENT)
    return safe_next(found) if isinstance(found, str) else None


def _signed_in(next_url: str, outcome: SignedIn) -> WerkzeugResponse:
    response = begin_session(redirect(next_url), outcome)
    response.delete_cookie(cookie_name(), path="/", secure=secure_cookies(), httponly=True, samesite="Lax")
    return response


def _factor_page(next_url: str, held: pending_sign_ins.Held, error: str | None = None, method: str = "") -> str:
    return render_template("second_factor.html", next_url=next_url, factors=authentication.factors_offered(held),
                           step_up=held.session_id is not None, error=error, method=method)


@bp.route("/login/second-factor", methods=["GET", "POST"])
def second_factor() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"))
    token = request.cookies.get(cookie_name())
    held = pending_sign_ins.find(token)
    if held is None:
        return redirect(url_for("pages.login", next=next_url))
    if request.method == "GET":
        return _factor_page(next_url, held)
    method = request.form.get("method", "")
    response = request.form.get("credential" if method == authentication.PASSKEY else "code", "")
    outcome = authentication.verify_second_factor(
        token, method, response, challenge=request.form.get("challenge", ""), ip=request.remote_addr,
        user_agent=request.user_agent.string, replacing=presented_cookie())
    if isinstance(outcome, SignedIn):
        return _signed_in(next_url, outcome)
    if outcome.reason == THROTTLED:
        page = _factor_page(next_url, held, rate_limits.wait_message(outcome.retry_after_seconds), method)
        return rate_limits.too_many_requests(page, outcome.retry_after_seconds)
    if outcome.reason == EXPIRED:
        return redirect(url_for("pages.login", next=next_url))
    return _factor_page(next_url, held, str(WRONG_FACTOR), method), 401


@bp.post("/login/second-factor/passkey-options")
@no_store
def second_factor_passkey_options() -> ResponseReturnValue:
    """WebAuthn request options for the passkeys of the person half-way through signing in."""
    held = pending_sign_ins.find(request.cookies.get(cookie_name()))
    if held is None or not passkeys.passkeys_of(held.user):
        return _json_error("the sign-in expired: sign in again")
    return _ceremony(passkeys.second_factor_options(held.user))


@bp.post("/login/passkey-options")
@no_store
def passwordless_options() -> ResponseReturnValue:
    """WebAuthn request options for a discoverable passkey: nobody is named yet. Limited per address, since
    anyone may ask and each challenge is stored until it expires."""
    try:
        count_request([passkey_challenge_counter(request.remote_addr)])
    except Throttled as refused:
        response = jsonify(error="slow_down", error_description="too many passkey sign-ins from this address")
        response.status_code = 429
        response.headers["Retry-After"] = str(refused.retry_after_seconds)
        return response
    return _ceremony(passkeys.passwordless_options())


@bp.post("/login/passkey")
def passkey_sign_in() -> ResponseReturnValue:
    next_url = safe_next(request.form.get("next"))
    outcome = authentication.sign_in_with_passkey(
        request.form.get("credential", ""), request.form.get("challenge", ""), ip=request.remote_addr,
        user_agent=request.user_agent.string, replacing=presented_cookie())
    if isinstance(outcome, SignedIn):
        return _signed_in(next_url, outcome)
    return _refused_passkey(next_url, outcome)


def _refused_passkey(next_url: str, outcome: Refused) -> ResponseReturnValue:
    from app.web.pages import login_page  # pages imports this module: the sign-in page, shown again

    if outcome.reason == THROTTLED:
        page = login_page(next_url, "", rate_limits.wait_message(outcome.retry_after_seconds))
        return rate_limits.too_many_requests(page, outcome.retry_after_seconds)
    return login_page(next_url, "", str(PASSKEY_FAILED)), 401


def _ceremony(ceremony: passkeys.Ceremony) -> Response:
    return jsonify(options=ceremony.options, challenge=ceremony.token)


def _json_error(description: str) -> Response:
    response = jsonify(error="invalid_request", error_description=description)
    response.status_code = 400
    return response
