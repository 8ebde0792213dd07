"""The account page's second factors: an authenticator app, recovery codes and passkeys. Every change needs a
recent sign-in (the password again otherwise); the services enforce it, the page only asks for it first."""

from __future__ import annotations

import math

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import AppError
from app.models import LoginSession
from app.security.throttle import Throttled
from app.services import authentication, passkeys, second_factors
from app.web import rate_limits
from app.web.account import signed_in
from app.web.login_session import current_login_session
from app.web.mfa import after_enrolment, remember_after_enrolment
from app.web.view_options import no_store

bp = Blueprint("security", __name__, url_prefix="/account/security")


def _session() -> LoginSession:
    found = current_login_session()
    assert found is not None  # guaranteed by @signed_in
    return found


def _page(errors: dict[str | None, str] | None = None, status: int = 200, **shown: object) -> tuple[str, int]:
    login_session = _session()
    user = login_session.user
    page = render_template(
        "account_security.html", user=user, section="security", errors=errors or {},
        factors=second_factors.factors_of(user), passkeys=passkeys.passkeys_of(user),
        needs_password=not authentication.authenticated_recently(login_session),
        recent_minutes=math.ceil(current_app.config["REAUTHENTICATE_SECONDS"] / 60), continue_url=after_enrolment(),
        **shown)
    return page, status


def ask_to_enrol(next_url: str) -> WerkzeugResponse:
    """A policy wants a second factor this signed-in person lacks: set one up, then continue to `next_url`."""
    remember_after_enrolment(next_url)
    return redirect(url_for("security.overview"))


def _failed(exc: AppError) -> tuple[str, int]:
    return _page({exc.field: exc.description}, 400)


@bp.get("")
@signed_in
def overview() -> tuple[str, int]:
    return _page()


@bp.post("/confirm")
@signed_in
def confirm() -> ResponseReturnValue:
    """The password again: the sign-in is recent for OSTIARY_REAUTHENTICATE_SECONDS, and changes may follow."""
    try:
        authentication.reauthenticate(_session(), request.form.get("password", ""), ip=request.remote_addr,
                                      purpose="second_factor.change")
    except Throttled as refused:
        page, _ = _page({"password": rate_limits.wait_message(refused.retry_after_seconds)})
        return rate_limits.too_many_requests(page, refused.retry_after_seconds)
    except AppError as exc:
        return _failed(exc)
    return redirect(url_for(".overview"))


@bp.post("/totp")
@signed_in
def begin_totp() -> ResponseReturnValue:
    try:
        enrolment = second_factors.begin_totp(_session())
    except AppError as exc:
        return _failed(exc)
    return render_template("account_totp.html", user=_session().user, section="security", enrolment=enrolment,
                           error=None)


@bp.post("/totp/confirm")
@signed_in
def confirm_totp() -> ResponseReturnValue:
    try:
        codes = second_factors.confirm_totp(_session(), request.form.get("code", ""))
    except AppError as exc:
        enrolment = second_factors.pending_totp(_session().user)
        if exc.field != "code" or enrolment is None:
            return _failed(exc)
        return render_template("account_totp.html", user=_session().user, section="security", enrolment=enrolment,
                               error=exc.description), 400
    flash(gettext("Your authenticator app is set up. Your other sessions were signed out."))
    return _codes_or_overview(codes)


@bp.post("/totp/remove")
@signed_in
def remove_totp() -> ResponseReturnValue:
    try:
        second_factors.remove_totp(_session())
    except AppError as exc:
        return _failed(exc)
    flash(gettext("The authenticator app was removed."))
    return redirect(url_for(".overview"))


@bp.post("/recovery-codes")
@signed_in
def regenerate_recovery_codes() -> ResponseReturnValue:
    try:
        codes = second_factors.regenerate_recovery_codes(_session())
    except AppError as exc:
        return _failed(exc)
    return _codes_or_overview(codes)


@bp.post("/passkeys/options")
@signed_in
@no_store
def passkey_options() -> ResponseReturnValue:
    try:
        ceremony = passkeys.registration_options(_session())
    except AppError as exc:
        response = jsonify(exc.to_dict())
        response.status_code = exc.status_code
        return response
    return jsonify(options=ceremony.options, challenge=ceremony.token)


@bp.post("/passkeys")
@signed_in
def add_passkey() -> ResponseReturnValue:
    form = request.form
    try:
        passkey, codes = passkeys.register(_session(), form.get("name", ""), form.get("credential", ""),
                                           form.get("challenge", ""))
    except AppError as exc:
        return _failed(exc)
    flash(gettext("The passkey “%(name)s” was added. Your other sessions were signed out.", name=passkey.name))
    return _codes_or_overview(codes)


@bp.post("/passkeys/<int:passkey_id>/remove")
@signed_in
def remove_passkey(passkey_id: int) -> ResponseReturnValue:
    try:
        name = passkeys.remove(_session(), passkey_id)
    except AppError as exc:
        return _failed(exc)
    flash(gettext("The passkey “%(name)s” was removed.", name=name))
    return redirect(url_for(".overview"))


def _codes_or_overview(codes: list[str]) -> ResponseReturnValue:
    """New recovery codes are shown in this response only: they are stored as digests."""
    if not codes:
        return redirect(url_for(".overview"))
    return Response(render_template("account_recovery_codes.html", user=_session().user, section="security",
                                    codes=codes))
