"""Self-service pages (README "Self-service accounts"): sign-up, email verification, forgotten passwords,
invitations, and the account page's email change and deletion. Each view parses the form, calls one service
and renders; every form that sends mail answers the same whether or not the address has an account."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext

from app.errors import AppError, InvalidLinkError, ValidationError
from app.security.throttle import Throttled
from app.services import account_deletion, email_change, invitations, password_reset, signup
from app.web import rate_limits
from app.web.account import signed_in
from app.web.login_session import current_login_session, current_user, forget_session
from app.web.redirects import safe_next

bp = Blueprint("self_service", __name__)

SIGNED_UP_AS = "signed_up_as"  # the address this browser signed up with: it may complete that registration
SIGNUP_NEXT = "signup_next"
MAX_TOKEN_CHARS = 64
# A form whose work depends on whether an address has an account answers no sooner than this, so that the time
# taken (a mail queued, or none) does not tell either; the services do comparable work on both paths as well.
MIN_ANSWER_SECONDS = 0.5
INVALID_LINK = lazy_gettext("This link is invalid or has expired. Links work once, and a newer one replaces it.")
INVALID_EMAIL = lazy_gettext("Enter a valid email address, like name@example.com.")
PASSWORDS_DIFFER = lazy_gettext("The passwords do not match.")
# Known service answers, in the page's language; anything else is shown as the service worded it.
MESSAGES = {"email is not a valid address": INVALID_EMAIL, "invalid or expired link": INVALID_LINK}


@bp.app_context_processor
def signup_links() -> dict[str, Any]:
    """The sign-in page offers "Create an account" only where sign-up is open."""
    return {"signup_open": lambda: signup.policy() == "open"}


@contextmanager
def _answer_takes_at_least() -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        time.sleep(max(0.0, started + MIN_ANSWER_SECONDS - time.monotonic()))


def _token() -> str:
    return request.values.get("token", "")[:MAX_TOKEN_CHARS]


def _errors(exc: AppError) -> dict[str | None, str]:
    return {exc.field: str(MESSAGES.get(exc.description, exc.description))}


def _throttled(template: str, refused: Throttled, *,
               wait_message: Callable[[int], str] = rate_limits.requests_wait_message,
               **context: Any) -> ResponseReturnValue:
    page = render_template(template, errors={None: wait_message(refused.retry_after_seconds)}, **context)
    return rate_limits.too_many_requests(page, refused.retry_after_seconds)


def _notice(title: str, *paragraphs: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template("notice.html", title=title, paragraphs=paragraphs, **context), status


def _invalid_link(resend: bool = False) -> tuple[str, int]:
    return _notice(gettext("Link not valid"), str(INVALID_LINK), status=400, resend=resend)


def _confirm_passwords(field: str = "new_password") -> str:
    password = request.form.get(field, "")
    if password != request.form.get("confirm_password", ""):
        raise ValidationError(str(PASSWORDS_DIFFER), field="confirm_password")
    return password


@bp.route("/signup", methods=["GET", "POST"])
def signup_page() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"), default="")
    policy = signup.policy()
    context: dict[str, Any] = {"policy": policy, "next_url": next_url, "form": request.form}
    if policy != "open":
        return render_template("signup.html", errors={}, **context), 403 if request.method == "POST" else 200
    if request.method == "GET":
        return render_template("signup.html", errors={}, **context)
    try:
        password = _confirm_passwords("password")
        with _answer_takes_at_least():
            address = signup.register(request.form.get("email", ""), password,
                                      name=request.form.get("name", "").strip(), ip=request.remote_addr,
                                      next_url=next_url or None)
    except Throttled as refused:
        return _throttled("signup.html", refused, **context)
    except AppError as exc:
        return render_template("signup.html", errors=_errors(exc), **context), 400
    session[SIGNED_UP_AS], session[SIGNUP_NEXT] = address, next_url
    return redirect(url_for(".signup_sent"))


@bp.route("/signup/sent", methods=["GET", "POST"])
def signup_sent() -> ResponseReturnValue:
    """"Check your mail", with a field for the short code for people who read their mail on another device."""
    address = session.get(SIGNED_UP_AS)
    if request.method == "POST":
        if signup.confirm_code(address, request.form.get("code", "")[:16]):
            return _confirmed(session.pop(SIGNUP_NEXT, None))
        return render_template("signup_sent.html", email=address,
                               errors={"code": gettext("That code is not right, or it has expired.")}), 400
    return render_template("signup_sent.html", email=address, errors={})


def _confirmed(next_url: str | None) -> ResponseReturnValue:
    flash(gettext("Your email address is confirmed."))
    if current_user() is not None:
        return redirect(url_for("account.profile"))
    return redirect(url_for("pages.login", next=next_url) if next_url else url_for("pages.login"))


@bp.route("/verify-email", methods=["GET", "POST"])
def verify_email() -> ResponseReturnValue:
    token = _token()
    found = signup.inspect(token)
    if found is None:
        return _invalid_link(resend=True)
    needs_password = found.pending and session.get(SIGNED_UP_AS) != found.email
    context = {"token": token, "email": found.email, "needs_password": needs_password}
    if request.method == "GET":
        return render_template("verify_email.html", errors={}, **context)
    try:
        if request.form.get("decision") == "cancel":
            signup.cancel(token)
            return _notice(gettext("Registration cancelled"),
                           gettext("Nobody can use this address for an account unless they confirm it from your "
                                   "mailbox."))
        next_url = signup.confirm(token, signed_up_as=session.get(SIGNED_UP_AS),
                                  password=request.form.get("password", ""), ip=request.remote_addr)
    except Throttled as refused:  # guesses at the registrant's password count as failed sign-ins
        return _throttled("verify_email.html", refused, wait_message=rate_limits.wait_message, **context)
    except InvalidLinkError:
        return _invalid_link(resend=True)
    except AppError as exc:
        return render_template("verify_email.html", errors=_errors(exc), **context), 400
    session.pop(SIGNED_UP_AS, None)
    return _confirmed(safe_next(next_url, default="") or None)


@bp.route("/verify-email/resend", methods=["GET", "POST"])
def resend_verification() -> ResponseReturnValue:
    context: dict[str, Any] = {"form": request.form, "endpoint": ".resend_verification", "lead": None,
                               "heading": gettext("Send a new confirmation link")}
    if request.method == "GET":
        return render_template("email_request.html", errors={}, **context)
    user = current_user()
    try:
        if user is not None:
            signup.resend_to(user, ip=request.remote_addr)
        else:
            with _answer_takes_at_least():
                signup.resend(request.form.get("email", ""), ip=request.remote_addr)
    except Throttled as refused:
        return _throttled("email_request.html", refused, **context)
    except AppError as exc:
        return render_template("email_request.html", errors=_errors(exc), **context), 400
    if user is not None:
        flash(gettext("We sent a new confirmation link to %(email)s.", email=user.email))
        return redirect(url_for("account.profile"))
    return _mail_sent()


def _mail_sent() -> tuple[str, int]:
    return _notice(gettext("Check your mail"),
                   gettext("If the address can be used, we have sent a message to it. Follow its link to go on; "
                           "it works once and expires."),
                   gettext("No message? Look in your spam folder, or ask again in a few minutes."))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    context: dict[str, Any] = {
        "form": request.form, "endpoint": ".forgot_password", "heading": gettext("Forgot your password?"),
        "lead": gettext("Enter the email address of your account, and we will send you a link to choose a new "
                        "password.")}
    if request.method == "GET":
        return render_template("email_request.html", errors={}, **context)
    try:
        with _answer_takes_at_least():
            password_reset.request_reset(request.form.get("email", ""), ip=request.remote_addr)
    except Throttled as refused:
        return _throttled("email_request.html", refused, **context)
    except AppError as exc:
        return render_template("email_request.html", errors=_errors(exc), **context), 400
    return _mail_sent()


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password() -> ResponseReturnValue:
    token = _token()
    email = password_reset.inspect(token)
    if email is None:
        return _invalid_link()
    context = {"token": token, "email": email, "action": url_for(".reset_password"), "ask_name": False,
               "title": gettext("Choose a new password")}
    if request.method == "GET":
        return render_template("set_password.html", errors={}, **context)
    try:
        password_reset.reset(token, _confirm_passwords())
    except InvalidLinkError:
        return _invalid_link()
    except AppError as exc:
        return render_template("set_password.html", errors=_errors(exc), **context), 400
    # Never signed in by a link: the new password proves it is the person, at the sign-in page.
    response = redirect(url_for("pages.login", login_hint=email))
    flash(gettext("Your password was changed and every session of your account was signed out. "
                  "Sign in with your new password."))
    return forget_session(response) if current_user() is not None else response


@bp.route("/invitation", methods=["GET", "POST"])
def accept_invitation() -> ResponseReturnValue:
    token = _token()
    invitation = invitations.inspect(token)
    if invitation is None:
        return _invalid_link()
    context = {"token": token, "email": invitation.email, "action": url_for(".accept_invitation"), "ask_name": True,
               "name": invitation.name, "title": gettext("Create your account")}
    if request.method == "GET":
        return render_template("set_password.html", errors={}, **context)
    try:
        invitations.accept(token, _confirm_passwords(), name=request.form.get("name", "").strip() or None)
    except InvalidLinkError:
        return _invalid_link()
    except AppError as exc:
        return render_template("set_password.html", errors=_errors(exc), **context), 400
    flash(gettext("Your account is ready. Sign in with your new password."))
    return redirect(url_for("pages.login", login_hint=invitation.email))


@bp.post("/account/email")
@signed_in
def change_email() -> ResponseReturnValue:
    login_session = current_login_session()
    assert login_session is not None  # @signed_in
    try:
        address = email_change.request_change(login_session, request.form.get("email", ""),
                                              request.form.get("password", ""), ip=request.remote_addr)
    except Throttled as refused:
        flash(rate_limits.requests_wait_message(refused.retry_after_seconds))
        return redirect(url_for("account.profile"))
    except AppError as exc:
        flash(str(MESSAGES.get(exc.description, exc.description)))
        return redirect(url_for("account.profile"))
    flash(gettext("We sent a link to %(email)s. Your address changes once you follow it; until then it stays "
                  "as it is.", email=address))
    return redirect(url_for("account.profile"))


@bp.route("/account/email/confirm", methods=["GET", "POST"])
def confirm_email_change() -> ResponseReturnValue:
    token = _token()
    new_email = email_change.inspect(token)
    if new_email is None:
        return _invalid_link()
    if request.method == "GET":
        return render_template("confirm_email_change.html", token=token, email=new_email)
    try:
        email_change.confirm(token, keep_session=current_login_session())
    except InvalidLinkError:
        return _invalid_link()
    except AppError as exc:
        return _notice(gettext("Address not changed"), str(MESSAGES.get(exc.description, exc.description)),
                       status=409)
    return _confirmed(None)


@bp.route("/account/delete", methods=["GET", "POST"])
@signed_in
def delete_account() -> ResponseReturnValue:
    login_session = current_login_session()
    assert login_session is not None  # @signed_in
    context: dict[str, Any] = {"user": login_session.user}
    if request.method == "GET":
        return render_template("account_delete.html", errors={}, **context)
    try:
        account_deletion.delete_own_account(login_session, request.form.get("password", ""), ip=request.remote_addr)
    except Throttled as refused:
        return _throttled("account_delete.html", refused, **context)
    except AppError as exc:
        return render_template("account_delete.html", errors=_errors(exc), **context), 400
    return forget_session(redirect(url_for(".account_deleted")))


@bp.get("/account/deleted")
def account_deleted() -> tuple[str, int]:
    return _notice(gettext("Your account was deleted"),
                   gettext("Your sessions, app connections and API keys are gone, and apps can no longer use tokens "
                           "issued to you."))
