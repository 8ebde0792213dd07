"""OAuth 2.0 endpoints: authorize (a page), and the machine APIs token, revocation, introspection, metadata, JWKS."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidRequestError
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    InteractionRequiredError,
    LoginRequiredError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.assurance import satisfies
from app.extensions import csrf
from app.models import Client, LoginSession, User
from app.models.client import METADATA_DOCUMENT
from app.models.clock import now
from app.oauth import authorization
from app.oauth.claims_request import requested_acr
from app.oauth.discovery import CREATE, RESPONSE_MODES, prompt_values
from app.oauth.discovery import metadata as server_metadata
from app.oauth.endpoints import check_id_token_hint
from app.oauth.grants import AuthorizationCodeGrant
from app.oauth.signing import keyring
from app.scopes import consent_lines
from app.services import authentication, consents, resources, second_factors
from app.services.metadata_documents import vouching_host
from app.web.account_security import ask_to_enrol
from app.web.error_pages import APP_REQUEST, UNKNOWN_APP
from app.web.errors import error_response
from app.web.login_session import current_login_session
from app.web.mfa import ask_for_second_factor
from app.web.parameters import malformed_parameter, request_parameters
from app.web.view_options import api, cors, no_store

bp = Blueprint("oauth", __name__)

# Fields our own consent form adds to the authorization request it replays.
CONSENT_FIELDS = {"csrf_token", "decision"}
# ASCII digits only: str.isdigit() also accepts "²" and "٣".
MAX_AGE = re.compile(r"[0-9]{1,10}")


def _error_page(error: OAuth2Error) -> Response:
    """Unknown client or unverified redirect_uri: show the error, never redirect (RFC 6749 §4.1.2.1)."""
    situation = UNKNOWN_APP if error.error == "invalid_client" else APP_REQUEST
    return error_response(400, error.error, error.description or "The authorization request is invalid.", situation)


def _max_age() -> int | None:
    raw = request.values.get("max_age")
    if not raw:
        return None  # RFC 6749 §3.1: a parameter without a value is treated as omitted
    if not MAX_AGE.fullmatch(raw):
        raise InvalidRequestError("max_age must be a non-negative integer")
    return int(raw)


def _refuse_request_objects() -> None:
    """OpenID Connect Core §6: we advertise no request object support, so say so rather than ignore one."""
    if request.values.get("request"):
        raise RequestNotSupportedError("the request parameter is not supported")
    if request.values.get("request_uri"):
        raise RequestURINotSupportedError("the request_uri parameter is not supported")


def _refuse_unsupported_response_mode() -> None:
    """OAuth 2.0 Multiple Response Type Encoding Practices §2.1: we deliver in the query, never elsewhere."""
    response_mode = request.values.get("response_mode")
    if response_mode and response_mode not in RESPONSE_MODES:
        raise InvalidRequestError(f"response_mode must be {' or '.join(RESPONSE_MODES)}")


def _prompts(max_age: int | None) -> set[str]:
    """OpenID Connect Core §3.1.2.1; Initiating User Registration via OpenID Connect §4: a value we do not
    list in prompt_values_supported is invalid_request, not silently ignored."""
    prompts = set(request.values.get("prompt", "").split())
    supported = prompt_values()
    if not prompts <= set(supported):
        raise InvalidRequestError(f"prompt values may be {', '.join(supported)}")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values")
    if max_age == 0:
        prompts.add("login")  # §3.1.2.1: max_age=0 is equivalent to prompt=login
    return prompts


def _hinted_subject(client_id: str) -> str | None:
    """OpenID Connect Core §3.1.2.1: the End-User an id_token_hint names, or None without one."""
    hint = request.values.get("id_token_hint")
    return check_id_token_hint(hint, client_id)["sub"] if hint else None


def _login_redirect(prompts: set[str], page: str = "pages.login") -> ResponseReturnValue:
    """Send the browser to sign in (or, for prompt=create, to sign up), then back here without prompt=login,
    prompt=create or max_age, so they are asked once. acr_values stays: a sign-in that fell short of it (the app's
    code when the person also has a passkey and phr was asked for) is stepped up like any other session."""
    params = request_parameters(without={*CONSENT_FIELDS, "prompt", "max_age"})
    remaining = " ".join(p for p in sorted(prompts) if p not in {"login", CREATE})
    if remaining:
        params.append(("prompt", remaining))
    back = url_for("oauth.authorize") + "?" + urlencode(params)
    query: dict[str, Any] = {"next": back}
    if request.values.get("login_hint"):
        query["login_hint"] = request.values["login_hint"][:320]
    if request.values.get("idp_hint"):
        query["idp_hint"] = request.values["idp_hint"][:40]  # straight to that upstream provider (README "Federation")
    return redirect(url_for(page, **query))


@bp.route("/oauth/authorize", methods=["GET", "POST"])
@csrf.exempt  # a relying party may POST the request; our consent decision checks CSRF itself
def authorize() -> ResponseReturnValue:
    """RFC 6749 §4.1.1 / OpenID Connect Core §3.1.2: sign in, consent, redirect with a code."""
    problem = malformed_parameter()
    if problem:
        return error_response(400, "invalid_request", problem, APP_REQUEST)
    login_session = current_login_session()
    try:
        grant = authorization.get_consent_grant(end_user=login_session.user if login_session else None)
    except OAuth2Error as error:
        return authorization.authorization_error_response(error) if error.redirect_uri else _error_page(error)
    grant.login_session = login_session
    redirect_uri = grant.redirect_uri
    state = request.values.get("state")
    try:
        _refuse_request_objects()
        _refuse_unsupported_response_mode()
        max_age = _max_age()
        prompts = _prompts(max_age)
        hinted_sub = _hinted_subject(grant.client.client_id)
        acr = requested_acr(request.values)
        if acr.unsupported:
            raise _unmet_acr(prompts, "none of the requested acr values is supported")
        if CREATE in prompts:
            # Initiating User Registration via OpenID Connect 1.0 §4: the sign-up page, then back here.
            return _login_redirect(prompts, "self_service.signup_page")
        acting = _acting_session(login_session, prompts, max_age, hinted_sub)
        if acting is None:
            if "none" in prompts:
                raise LoginRequiredError()
            return _login_redirect(prompts)
        step_up = authentication.step_up_target(acting, acr.wanted, grant.client, essential=acr.essential)
        if step_up is not None:
            if "none" in prompts:
                raise LoginRequiredError("a stronger sign-in is required")
            return ask_for_second_factor(_authorization_url(), authentication.step_up(acting, step_up))
        if current_app.config["REQUIRE_VERIFIED_EMAIL"] and not acting.user.email_verified:
            if "none" in prompts:
                raise InteractionRequiredError("the email address is not confirmed")
            return _unconfirmed_email_page()
        if second_factors.must_enrol(acting.user, grant.client):
            if "none" in prompts:
                raise InteractionRequiredError()
            return ask_to_enrol(_authorization_url())
        if acr.essential and not satisfies(acting.amr.split(), acr.wanted):
            raise _unmet_acr(prompts, "the requested acr cannot be reached: no enrolled factor reaches it")
        grant.reported_acr = acr.reported(acting.amr.split())
        return _decide(grant, acting.user, prompts)
    except OAuth2Error as error:
        error.redirect_uri, error.state = redirect_uri, state
        return authorization.authorization_error_response(error)


def _unmet_acr(prompts: set[str], description: str) -> OAuth2Error:
    """OpenID Connect Core §5.5.1.1: an essential acr that cannot be met is a failed authentication."""
    return LoginRequiredError(description) if "none" in prompts else AccessDeniedError(description)


def _acting_session(login_session: LoginSession | None, prompts: set[str], max_age: int | None,
                    hinted_sub: str | None) -> LoginSession | None:
    """The sign-in that may answer this request, or None to sign in (again): OpenID Connect Core §3.1.2.1
    prompt=login and max_age, and an id_token_hint about someone else (answered only for that person). A sign-in
    below the level asked for is stepped up instead (authentication.step_up_target)."""
    if login_session is None or "login" in prompts:
        return None
    if max_age is not None and now() - login_session.auth_time > max_age:
        return None
    if hinted_sub is not None and hinted_sub != login_session.user.sub:
        return None
    return login_session


def _authorization_url() -> str:
    """This authorization request as a URL to come back to (it may have been POSTed)."""
    return url_for("oauth.authorize") + "?" + urlencode(request_parameters(without=CONSENT_FIELDS))


def _decide(grant: AuthorizationCodeGrant, user: User, prompts: set[str]) -> ResponseReturnValue:
    """A remembered consent answers at once; otherwise the person is asked, and their decision is the answer."""
    client_id = grant.client.client_id
    scope = grant.request.scope or ""
    # RFC 8707: the resource server the access token will be sent to, resolved while validating.
    resource = grant.resource.identifier if grant.resource else None
    decision = request.form.get("decision") if request.method == "POST" else None
    if decision is None:
        if "consent" not in prompts and consents.covers(user, client_id, scope, resource):
            return authorization.create_authorization_response(grant=grant, grant_user=user)
        if "none" in prompts:
            raise ConsentRequiredError()
        return _consent_page(grant, user, scope)
    csrf.protect()
    if decision != "allow":
        consents.deny(user, client_id, scope, resource)
        raise AccessDeniedError("the user denied the request")
    consents.grant(user, client_id, scope, resource)
    return authorization.create_authorization_response(grant=grant, grant_user=user)


def _unconfirmed_email_page() -> tuple[str, int]:
    """OSTIARY_REQUIRE_VERIFIED_EMAIL: no app until the address is confirmed; the page sends the link again."""
    return render_template("notice.html", title=_("Confirm your email address"), resend_form=True,
                           paragraphs=[_("Confirm your email address before you sign in to apps: follow the link "
                                         "we sent you, or ask for a new one.")]), 403


def _consent_page(grant: AuthorizationCodeGrant, user: User, scope: str) -> str:
    names = resources.names_by_scope(scope.split(), requested=grant.resource, allowed=grant.client.resources)
    return render_template("consent.html", client=grant.client, scopes=consent_lines(scope, names),
                           resource=grant.resource, params=request_parameters(without=CONSENT_FIELDS),
                           user=user, **_client_facts(grant.client))


def _client_facts(client: Client) -> dict[str, Any]:
    """What lets a person tell a client from a look-alike: the host that vouches for a metadata document client,
    whether it registered itself, and its links, each shown with its host. Its logo is not shown: it would be
    fetched from the client's server by the person's browser."""
    links = [(label, url, urlsplit(url).netloc) for label, url in (
        (_("Website"), client.client_uri), (_("Privacy policy"), client.policy_uri),
        (_("Terms of service"), client.tos_uri)) if url]
    vouched_by = vouching_host(client.client_id) if client.registered_via == METADATA_DOCUMENT else None
    return {"vouched_by": vouched_by, "self_registered": client.is_dynamic and vouched_by is None, "links": links}


@bp.route("/oauth/token", methods=["POST"])
@api
@cors
@no_store  # RFC 6749 §5.1
def token() -> Response:
    problem = malformed_parameter()
    if problem:
        return authorization.handle_error_response(None, InvalidRequestError(problem))
    return authorization.create_token_response(request)


@bp.route("/oauth/revoke", methods=["POST"])
@api
@cors  # browser apps revoke on sign-out (oidc-client-ts revokeTokens), cross-origin like the token request
def revoke() -> ResponseReturnValue:
    return _endpoint_response("revocation")


@bp.route("/oauth/introspect", methods=["POST"])
@api
@no_store  # RFC 7662 §4: the answer describes a live token
def introspect() -> ResponseReturnValue:
    return _endpoint_response("introspection")


def _endpoint_response(name: str) -> ResponseReturnValue:
    response = authorization.create_endpoint_response(name, request)
    assert response is not None  # only RP-initiated logout leaves its answer to the view
    return response


@bp.route("/.well-known/openid-configuration")
@bp.route("/.well-known/oauth-authorization-server")
@api
@cors
def metadata() -> Response:
    response = jsonify(server_metadata())
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.route("/.well-known/jwks.json")
@api
@cors
def jwks() -> ResponseReturnValue:
    """RFC 7517 §5 key set: cacheable for less than a next key's publish delay, revalidated by ETag (RFC 9110 §13.1.2)."""
    view = keyring().view()
    response = Response(view.jwks_json, mimetype="application/json")
    response.set_etag(view.etag)
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['JWKS_MAX_AGE_SECONDS']}"
    return response.make_conditional(request)
