"""The account page of a signed-in person: profile, password, sessions and their own API keys."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from app.errors import AppError, ValidationError
from app.models import LoginSession, User
from app.security.throttle import Throttled
from app.services import api_keys, authentication, users
from app.services import sessions as login_sessions
from app.services.roles import allowed_scopes
from app.web import password_form, rate_limits
from app.web.login_session import current_login_session, current_user

bp = Blueprint("account", __name__, url_prefix="/account")

# Choices of the key-expiry field, in days; 0 is "never".
EXPIRY_DAYS = (30, 90, 365, 0)
BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
            ("Safari/", "Safari"), ("curl/", "curl"))
SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
           ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send a signed-out browser to sign in, and back here afterwards."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("pages.login", next=request.path))
        return view(*args, **kwargs)

    return wrapper


@bp.app_template_filter("utc_time")
def utc_time(moment: int | None) -> str:
    return time.strftime("%d %b %Y, %H:%M UTC", time.gmtime(moment)) if moment else "never"


def device_name(user_agent: str | None) -> str:
    """A short, human name for a User-Agent string: "Firefox on Linux"."""
    agent = user_agent or ""
    browser = next((name for marker, name in BROWSERS if marker in agent), None)
    system = next((name for marker, name in SYSTEMS if marker in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


def _session() -> LoginSession:
    found = current_login_session()
    assert found is not None  # guaranteed by @signed_in
    return found


def _user() -> User:
    return _session().user


def _profile_page(user: User, errors: dict[str | None, str] | None = None) -> str:
    return render_template("account.html", user=user, section="profile", errors=errors or {},
                           live_keys=api_keys.live_key_count(user))


@bp.get("")
@signed_in
def profile() -> str:
    return _profile_page(_user())


@bp.post("/profile")
@signed_in
def update_profile() -> ResponseReturnValue:
    user = _user()
    try:
        users.update_user(user, {"name": request.form.get("name", "").strip() or None}, actor=user.sub)
    except AppError as exc:
        return _profile_page(user, {exc.field: exc.description}), 400
    flash("Your profile was saved.")
    return redirect(url_for(".profile"))


@bp.post("/password")
@signed_in
def change_password() -> ResponseReturnValue:
    user = _user()
    form = request.form
    found = password_form.problems(form)
    try:
        if found:
            # The current password is checked too (counted like a sign-in), so that every problem is told at once.
            authentication.reauthenticate(_session(), form.get("current_password", ""), ip=request.remote_addr,
                                          purpose="password_change")
            return _profile_page(user, found), 400
        revoked_keys = authentication.change_password(
            _session(), form.get("current_password", ""), form.get("new_password", ""), ip=request.remote_addr,
            revoke_api_keys=form.get("revoke_api_keys") == "1")
    except Throttled as refused:
        message = rate_limits.wait_message(refused.retry_after_seconds)
        return rate_limits.too_many_requests(_profile_page(user, {"current_password": message}),
                                             refused.retry_after_seconds)
    except AppError as exc:
        return _profile_page(user, {**found, **password_form.current_password_problem(exc)}), 400
    flash("Your password was changed. Your other sessions were signed out, and your apps will ask you to sign in "
          "again." + (f" {_keys_revoked(revoked_keys)}" if revoked_keys else ""))
    return redirect(url_for(".profile"))


def _keys_revoked(count: int) -> str:
    return f"{count} API key was revoked." if count == 1 else f"{count} API keys were revoked."


@bp.get("/sessions")
@signed_in
def sessions() -> str:
    current = _session()
    active = login_sessions.active_sessions(_user())
    apps = login_sessions.connected_apps(active)
    listed = [(s, device_name(s.user_agent), s.id == current.id, apps.get(s.id, [])) for s in active]
    others_have_apps = any(session_apps for session_id, session_apps in apps.items() if session_id != current.id)
    return render_template("account_sessions.html", user=_user(), section="sessions", sessions=listed,
                           others_have_apps=others_have_apps)


@bp.post("/sessions/<int:session_id>/end")
@signed_in
def end_session(session_id: int) -> ResponseReturnValue:
    disconnect = request.form.get("disconnect_apps") == "1"
    if login_sessions.end_session(_user(), session_id, disconnect_apps=disconnect):
        flash("That session was signed out and its apps were disconnected." if disconnect
              else "That session was signed out.")
    return redirect(url_for(".sessions"))


@bp.post("/sessions/end-others")
@signed_in
def end_other_sessions() -> ResponseReturnValue:
    disconnect = request.form.get("disconnect_apps") == "1"
    ended = login_sessions.end_other_sessions(_user(), keep=_session().id, disconnect_apps=disconnect)
    flash(f"{ended} other session{'s' if ended != 1 else ''} signed out"
          + (", and their apps disconnected." if disconnect else "."))
    return redirect(url_for(".sessions"))


def _keys_page(user: User, *, issued: api_keys.IssuedKey | None = None, errors: dict[str | None, str] | None = None,
               status: int = 200) -> tuple[str, int]:
    page = render_template(
        "account_api_keys.html", user=user, section="api-keys", keys=api_keys.keys_of(user),
        scopes=allowed_scopes(user), expiry_days=EXPIRY_DAYS, issued=issued, errors=errors or {},
        now=int(time.time()), needs_password=not authentication.authenticated_recently(_session()),
        recent_minutes=math.ceil(current_app.config["REAUTHENTICATE_SECONDS"] / 60),
        live_keys=api_keys.live_key_count(user), key_cap=current_app.config["LIVE_API_KEYS_PER_PERSON"],
    )
    return page, status


@bp.get("/api-keys")
@signed_in
def keys() -> tuple[str, int]:
    return _keys_page(_user())


@bp.post("/api-keys")
@signed_in
def create_key() -> ResponseReturnValue:
    """The key is shown in this response only: it is not stored anywhere it could be shown again."""
    user = _user()
    days = request.form.get("expires_in_days", "")
    try:
        # A session cookie alone (a browser left signed in, a stolen cookie) does not mint lasting credentials.
        authentication.confirm_recent_sign_in(_session(), request.form.get("password", ""), ip=request.remote_addr,
                                              purpose="api_key.create")
        if not days.isascii() or not days.isdigit() or int(days) not in EXPIRY_DAYS:
            raise ValidationError("choose one of the offered expiry times", field="expires_in_days")
        expires_at = int(time.time()) + int(days) * 86400 if int(days) else None
        issued = api_keys.create_api_key(user, request.form.get("name", ""), " ".join(request.form.getlist("scope")),
                                         expires_at=expires_at, actor=user.sub)
    except Throttled as refused:
        page, _ = _keys_page(user, errors={"password": rate_limits.wait_message(refused.retry_after_seconds)})
        return rate_limits.too_many_requests(page, refused.retry_after_seconds)
    except AppError as exc:
        return _keys_page(user, errors={exc.field: exc.description}, status=400)
    return _keys_page(user, issued=issued)


@bp.post("/api-keys/<key_id>/revoke")
@signed_in
def revoke_key(key_id: str) -> ResponseReturnValue:
    user = _user()
    try:
        revoked = api_keys.revoke_api_key(api_keys.get_api_key(key_id, owner=user), actor=user.sub)
    except AppError:
        flash("There is no such key.")
    else:
        flash(f"The key “{revoked.name}” was revoked.")
    return redirect(url_for(".keys"))


@bp.post("/api-keys/<key_id>/delete")
@signed_in
def delete_key(key_id: str) -> ResponseReturnValue:
    """A revoked or expired key leaves the list; a working one must be revoked first."""
    user = _user()
    try:
        found = api_keys.get_api_key(key_id, owner=user)
        name = found.name
        api_keys.delete_api_key(found, actor=user.sub)
    except AppError:
        flash(gettext("Only a revoked or expired key of yours can be deleted."))
    else:
        flash(gettext("The key “%(name)s” was deleted.", name=name))
    return redirect(url_for(".keys"))
