"""Federated sign-in pages: "Continue with X", the upstream callback, proving an existing account, and the
account page's linked sign-ins. Thin: app/services/federation.py decides."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2.rfc6749.errors import AccessDeniedError
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext

from app.errors import AppError
from app.oauth import authorization
from app.oauth.errors import TemporarilyUnavailableError
from app.security.secrets import generate_secret
from app.security.throttle import Throttled
from app.services import authentication, clients, federation
from app.services.authentication import THROTTLED, FactorRequired, Refused, SignedIn
from app.services.federation import Declined, Linked, LinkRequired
from app.web import rate_limits
from app.web.account import signed_in
from app.web.login_session import current_login_session, current_user, presented_cookie
from app.web.mfa import after_sign_in, ask_for_second_factor
from app.web.redirects import safe_next

bp = Blueprint("federation", __name__)

BINDING, NEXT, PENDING = "federation_binding", "federation_next", "federation_pending"

# What a person reads when a federated sign-in is refused (app/services/federation.py names the reasons).
EXPLANATIONS = {
    federation.INVALID_STATE: lazy_gettext(
        "This sign-in link is not valid in this browser, or was already used. Start again from the sign-in page."),
    federation.UPSTREAM_DENIED: lazy_gettext("%(provider)s did not sign you in. You can try again or use "
                                             "another way to sign in."),
    federation.UPSTREAM_FAILED: lazy_gettext("The answer from %(provider)s could not be verified, so you were "
                                             "not signed in."),
    federation.UPSTREAM_UNAVAILABLE: lazy_gettext("%(provider)s cannot be reached right now. Try again later."),
    federation.NO_VERIFIED_EMAIL: lazy_gettext("%(provider)s did not confirm an email address for you, so no "
                                               "account can be made with it."),
    federation.ACCOUNT_EXISTS: lazy_gettext(
        "An account with your email address already exists, and it cannot be joined to %(provider)s this way. "
        "Sign in with your password, then link %(provider)s on your account page."),
    federation.SIGN_UP_CLOSED: lazy_gettext("There is no account for you here, and %(provider)s cannot be used "
                                            "to create one."),
    federation.ACCOUNT_DISABLED: lazy_gettext("Your account is disabled."),
    federation.LINKED_ELSEWHERE: lazy_gettext("This %(provider)s account is already linked to another account."),
    federation.UNKNOWN_PROVIDER: lazy_gettext("There is no such way to sign in."),
}
STATUS = {federation.UPSTREAM_UNAVAILABLE: 503, federation.ACCOUNT_DISABLED: 403, federation.LINKED_ELSEWHERE: 409,
          federation.ACCOUNT_EXISTS: 409}


@bp.app_context_processor
def sign_in_providers() -> dict[str, Any]:
    """`federation_providers()` in templates: the enabled providers, for the buttons (federation_buttons.html)."""
    return {"federation_providers": federation.enabled_providers}


def _binding() -> str:
    """This browser's secret for federated sign-ins, in its session cookie (signed, HttpOnly, SameSite=Lax)."""
    binding = session.get(BINDING)
    if not isinstance(binding, str) or len(binding) != 43:
        binding = session[BINDING] = generate_secret(32)
    return binding


@bp.get("/federation/<name>/start")
def start(name: str) -> ResponseReturnValue:
    """Continue with <name>: to the provider, with state, nonce and PKCE bound to this browser."""
    session[NEXT] = safe_next(request.args.get("next"))
    hint = request.args.get("login_hint", "")[:320] or None
    return _depart(name, link_user=None, login_hint=hint)


def _depart(name: str, **kwargs: Any) -> ResponseReturnValue:
    try:
        departure = federation.begin(name, binding=_binding(), **kwargs)
    except AppError:
        return _refusal(Declined(federation.UNKNOWN_PROVIDER))
    return _answer(departure) if isinstance(departure, Declined) else redirect(departure)


@bp.get("/federation/<name>/callback")
def callback(name: str) -> ResponseReturnValue:
    """The provider's answer: this path names the provider, so an answer cannot be taken for another's."""
    params = {key: value for key, value in request.args.items()}
    binding = session.get(BINDING, "")
    try:
        outcome = federation.complete(name, params, binding=binding if isinstance(binding, str) else "",
                                      signed_in_user=current_user(), ip=request.remote_addr,
                                      user_agent=request.user_agent.string, replacing=presented_cookie())
    except AppError as exc:  # a just-in-time account lost a race for its email
        return _refusal(Declined(federation.ACCOUNT_EXISTS, name), detail=exc.description)
    return _answer(outcome)


def _answer(outcome: SignedIn | FactorRequired | LinkRequired | Linked | Declined) -> ResponseReturnValue:
    next_url = safe_next(session.get(NEXT))
    if isinstance(outcome, SignedIn):
        return after_sign_in(next_url, outcome)
    if isinstance(outcome, FactorRequired):
        return ask_for_second_factor(next_url, outcome)
    if isinstance(outcome, LinkRequired):
        session[PENDING] = outcome.token
        return _link_page(outcome.provider, outcome.email)
    if isinstance(outcome, Linked):
        flash(gettext("%(provider)s is now linked to your account.", provider=outcome.provider.display_name))
        return redirect(url_for(".linked"))
    if outcome.reason in (federation.UPSTREAM_DENIED, federation.UPSTREAM_UNAVAILABLE):
        # Inside an authorization request the relying party hears it (RFC 6749 §4.1.2.1).
        to_relying_party = _relying_party_error(next_url, outcome.unavailable)
        if to_relying_party is not None:
            return to_relying_party
    return _refusal(outcome)


def _refusal(outcome: Declined, detail: str | None = None) -> ResponseReturnValue:
    explanation = EXPLANATIONS.get(outcome.reason, EXPLANATIONS[federation.INVALID_STATE])
    text = explanation % {"provider": outcome.provider or gettext("The provider")}
    return render_template("federation_error.html", reason=outcome.reason, explanation=text, detail=detail,
                           next_url=safe_next(session.get(NEXT))), STATUS.get(outcome.reason, 400)


def _relying_party_error(next_url: str, unavailable: bool) -> ResponseReturnValue | None:
    """access_denied or temporarily_unavailable to the client whose authorization request this sign-in serves,
    at a redirect URI registered for it (never one the browser made up), with its state and our iss."""
    parts = urlsplit(next_url)
    if parts.path != url_for("oauth.authorize"):
        return None
    query = parse_qs(parts.query)
    client_id, redirect_uri, state = (query.get(key, [""])[0] for key in ("client_id", "redirect_uri", "state"))
    client = clients.get_client(client_id)
    if client is None or not client.is_active or not redirect_uri or not client.check_redirect_uri(redirect_uri):
        return None
    error = (TemporarilyUnavailableError() if unavailable
             else AccessDeniedError(description="the sign-in provider did not authenticate the user"))
    error.redirect_uri, error.state = redirect_uri, state or None
    return authorization.authorization_error_response(error)


def _link_page(provider: str, email: str, error: str | None = None, mailed_to: str | None = None) -> str:
    return render_template("federation_link.html", provider=provider, email=email, error=error, mailed_to=mailed_to)


@bp.post("/federation/link")
def link_with_password() -> ResponseReturnValue:
    """The person proves the existing account with its password: linked and signed in."""
    token = session.get(PENDING, "")
    outcome = federation.confirm_with_password(
        token if isinstance(token, str) else "", request.form.get("password", ""), binding=session.get(BINDING, ""),
        ip=request.remote_addr, user_agent=request.user_agent.string, replacing=presented_cookie())
    if isinstance(outcome, Refused):
        pending = federation.describe_pending(token)
        if pending is None:
            return _refusal(Declined(federation.INVALID_STATE))
        if outcome.reason == THROTTLED:
            page = _link_page(*pending, error=rate_limits.wait_message(outcome.retry_after_seconds))
            return rate_limits.too_many_requests(page, outcome.retry_after_seconds)
        return _link_page(*pending, error=gettext("The password is not correct.")), 401
    return _answer(outcome)


@bp.post("/federation/link/mail")
def link_by_mail() -> ResponseReturnValue:
    token = session.get(PENDING, "")
    pending = federation.describe_pending(token) if isinstance(token, str) else None
    mailed_to = federation.mail_confirmation(token, binding=session.get(BINDING, "")) if pending else None
    if pending is None or mailed_to is None:
        return _refusal(Declined(federation.INVALID_STATE))
    session.pop(PENDING, None)
    return _link_page(*pending, mailed_to=mailed_to)


@bp.route("/federation/link/confirm", methods=["GET", "POST"])
def confirm_mailed_link() -> ResponseReturnValue:
    """A mailed link: the GET shows what it links (mail scanners fetch links), only the POST links."""
    token = request.values.get("token", "")
    if request.method == "GET":
        found = federation.peek_mailed(token)
        if found is None:
            return _refusal(Declined(federation.INVALID_STATE))
        account, provider, upstream_email = found
        return render_template("federation_confirm.html", token=token, account=account, provider=provider,
                               upstream_email=upstream_email)
    outcome = federation.confirm_mailed(token)
    if isinstance(outcome, Declined):
        return _refusal(outcome)
    return render_template("federation_confirmed.html", provider=outcome.provider)


@bp.get("/account/linked")
@signed_in
def linked() -> str:
    return _linked_page()


def _linked_page(errors: dict[str | None, str] | None = None) -> str:
    user = current_user()
    assert user is not None
    identities = federation.identities_of(user)
    linked_names = {identity.provider.name for identity in identities}
    login_session = current_login_session()
    assert login_session is not None
    return render_template(
        "account_linked.html", user=user, section="linked", identities=identities, errors=errors or {},
        can_remove=user.password_hash is not None or len(identities) > 1,
        available=[p for p in federation.enabled_providers() if p.name not in linked_names],
        needs_password=not authentication.authenticated_recently(login_session) and user.password_hash is not None,
        recent_minutes=math.ceil(current_app.config["REAUTHENTICATE_SECONDS"] / 60))


@bp.post("/account/linked/<name>/link")
@signed_in
def link(name: str) -> ResponseReturnValue:
    """Link another provider: a new way into the account, so a recent sign-in (or the password) first."""
    login_session = current_login_session()
    assert login_session is not None
    try:
        if login_session.user.password_hash is not None:
            authentication.confirm_recent_sign_in(login_session, request.form.get("password", ""),
                                                  ip=request.remote_addr, purpose="federation.link")
        elif not authentication.authenticated_recently(login_session):
            flash(gettext("Sign in again to link another way to sign in."))
            return redirect(url_for("pages.login", next=url_for(".linked")))
    except Throttled as refused:
        page = _linked_page({"password": rate_limits.wait_message(refused.retry_after_seconds)})
        return rate_limits.too_many_requests(page, refused.retry_after_seconds)
    except AppError as exc:
        return _linked_page({exc.field: exc.description}), 400
    session[NEXT] = url_for(".linked")
    return _depart(name, link_user=login_session.user)


@bp.post("/account/linked/<int:identity_id>/remove")
@signed_in
def unlink(identity_id: int) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    try:
        removed = federation.unlink(user, identity_id)
    except AppError as exc:
        flash(exc.description)
    else:
        flash(gettext("%(provider)s is no longer linked to your account.", provider=removed.provider.display_name))
    return redirect(url_for(".linked"))

