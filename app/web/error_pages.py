"""The error page a person sees: one situation per kind of failure, in plain words with what they can do, a way
back to the app when the app is known and its redirect URI verified, and the technical detail folded away for
the app's developer."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Response, g, render_template, request
from flask_babel import lazy_gettext, ngettext
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from app.services.clients import get_active_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Situation:
    """What the person reads: a title, what happened (may name the brand as %(brand)s) and what they can do."""

    key: str
    title: str
    explanation: str
    advice: str


UNKNOWN_APP = Situation(
    "unknown_app", lazy_gettext("This app is not known here"),
    lazy_gettext("The app that sent you here is not registered with %(brand)s, so it cannot use your account."),
    lazy_gettext("Go back to the app and try again. If this keeps happening, contact the app's support."))
APP_REQUEST = Situation(
    "app_request", lazy_gettext("The app sent an invalid request"),
    lazy_gettext("The app that sent you here asked %(brand)s for something it cannot accept. This is a problem "
                 "in the app, not with your account."),
    lazy_gettext("Go back to the app and try again. If this keeps happening, tell the app's developers: the "
                 "details below show them what to fix."))
NOT_FOUND = Situation(
    "not_found", lazy_gettext("Page not found"),
    lazy_gettext("There is no page at this address. It may have been mistyped, or the link you followed is out "
                 "of date."),
    lazy_gettext("Check the address, or start again from the start page."))
METHOD_NOT_ALLOWED = Situation(
    "method_not_allowed", lazy_gettext("This page cannot be opened this way"),
    lazy_gettext("The page was asked for in a way it does not support. This can happen with a bookmarked form "
                 "or after going back in the browser."),
    lazy_gettext("Start again from the start page."))
FORM_EXPIRED = Situation(
    "form_expired", lazy_gettext("The form expired"),
    lazy_gettext("The form was open for too long, or was sent from another site, so it was not accepted. "
                 "Nothing was changed."),
    lazy_gettext("Go back, reload the page and try again."))
TOO_MANY_ATTEMPTS = Situation(
    "too_many_attempts", lazy_gettext("Too many attempts"),
    lazy_gettext("There were too many attempts in a short time, so %(brand)s is pausing further ones to "
                 "protect your account."),
    lazy_gettext("Wait a few minutes, then try again."))
UNAVAILABLE = Situation(
    "unavailable", lazy_gettext("Temporarily unavailable"),
    lazy_gettext("%(brand)s cannot answer right now. Your account is safe; nothing you did caused this."),
    lazy_gettext("Try again in a few moments."))
TOO_LONG = Situation(
    "too_long", lazy_gettext("The address is too long"),
    lazy_gettext("The link you followed is longer than %(brand)s accepts. It may have been damaged when it was "
                 "copied, or the app that made it has a problem."),
    lazy_gettext("Go back to the app or site that sent you here and try again."))
TOO_LARGE = Situation(
    "too_large", lazy_gettext("Too much was sent"),
    lazy_gettext("The form or request sent more data than %(brand)s accepts."),
    lazy_gettext("Go back and try again with less."))
BAD_REQUEST = Situation(
    "bad_request", lazy_gettext("The request could not be accepted"),
    lazy_gettext("Your browser sent a request that %(brand)s could not accept."),
    lazy_gettext("Go back and try again, or start again from the start page."))
SERVER_ERROR = Situation(
    "server_error", lazy_gettext("Something went wrong"),
    lazy_gettext("%(brand)s ran into a problem it did not expect. It has been recorded."),
    lazy_gettext("Try again in a few moments. If it keeps happening, contact support and mention the request ID "
                 "in the details below."))

BY_STATUS = {400: BAD_REQUEST, 404: NOT_FOUND, 405: METHOD_NOT_ALLOWED, 413: TOO_LARGE, 414: TOO_LONG,
             431: TOO_LARGE, 429: TOO_MANY_ATTEMPTS, 503: UNAVAILABLE}
# The requests an app sends a person to, and the parameter naming where the app wants the person back.
APP_ENDPOINTS = {"oauth.authorize": "redirect_uri", "oidc.end_session": "post_logout_redirect_uri"}


@dataclass(frozen=True)
class WayBack:
    name: str
    url: str


def situation_for(status: int) -> Situation:
    return BY_STATUS.get(status) or (SERVER_ERROR if status >= 500 else BAD_REQUEST)


def render(status: int, error: str, description: str, situation: Situation | None = None, *,
           retry_after_seconds: int | None = None) -> Response:
    """The page for `situation` (by default the one of `status`); `error` and `description` go in the details."""
    situation = situation or situation_for(status)
    advice = str(situation.advice)
    if situation is TOO_MANY_ATTEMPTS and retry_after_seconds:
        minutes = math.ceil(retry_after_seconds / 60)
        advice = ngettext("Wait %(num)d minute, then try again.", "Wait %(num)d minutes, then try again.", minutes)
    back = way_back() if situation is not UNAVAILABLE else None  # with the database down, no look-up
    page = render_template("error.html", situation=situation, advice=advice, back=back, status=status, error=error,
                           description=description, request_id=g.get("request_id"))
    response = Response(page, status=status)
    if retry_after_seconds:
        response.headers["Retry-After"] = str(retry_after_seconds)
    return response


def way_back() -> WayBack | None:
    """"Back to <app>": only on a request an app sent the person with (authorize, RP-initiated logout), naming an
    enabled client once and a redirect URI registered for it, exactly; to the site of the URI (a page after
    sign-out: the URI itself). Never for an http(s) URI it does not register, nor for a native app's scheme."""
    parameter = APP_ENDPOINTS.get(request.endpoint or "")
    if parameter is None:
        return None
    try:
        values = request.values
    except HTTPException:  # a body over the limit: the 413 this page may be telling
        return None
    client_ids, uris = values.getlist("client_id"), values.getlist(parameter)
    if len(client_ids) != 1 or len(uris) != 1:
        return None
    try:
        client = get_active_client(client_ids[0])
    except SQLAlchemyError:
        log.warning("no way back offered: the client could not be looked up")
        return None
    if client is None:
        return None
    registered = client.redirect_uris if parameter == "redirect_uri" else client.post_logout_redirect_uris
    uri = uris[0]
    parts = urlsplit(uri)
    if uri not in (registered or []) or parts.scheme not in ("https", "http"):
        return None
    return WayBack(client.name, uri if parameter != "redirect_uri" else f"{parts.scheme}://{parts.netloc}/")
