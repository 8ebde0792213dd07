"""Hostile answers at every place Ostiary reads from an upstream: the discovery document, the JWKS, user-info, the
generic OAuth 2.0 path's claims, and the logic of the Microsoft and GitHub presets (the token endpoint's forgeries
are in test_attacks.py). Each refusal is a readable page (or the spec error to the relying party), one audited
federation.sign_in failure naming what failed, no account, identity or session more than before, and neither the
client secret, the code nor an access token in the page, the audit trail or the log."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from joserfc.jwk import OctKey
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, FederatedIdentity, LoginSession, User
from tests.federation.conftest import (
    DISCOVERY,
    JWKS,
    TOKEN,
    USERINFO,
    FederatedBrowser,
    Tamper,
    merged,
    without,
)
from tests.federation.test_attacks import START, reason, with_query
from tests.flows import authorization_params, pkce_pair, query_of

OVERSIZED = "x" * 70_000  # the egress cap is 64 KiB
EVIL = "http://evil.example"


def census(app) -> tuple[int, int, int]:
    """(accounts, linked identities, sessions)."""
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(model))
                     for model in (User, FederatedIdentity, LoginSession))


def refusals(app) -> list[dict[str, Any]]:
    with app.app_context():
        return [event.details for event in db.session.scalars(select(AuditEvent).where(
            AuditEvent.event == "federation.sign_in", AuditEvent.outcome == "failure"))]


@pytest.fixture
def assert_refused(app, upstream, upstream_proxy, caplog) -> Callable[..., None]:
    """assert_refused(response, status, reason, cause, before=census, code=...): see the module's docstring."""

    def check(response: requests.Response, status: int, expected: str, cause: str,
              before: tuple[int, int, int] = (0, 0, 0), code: str | None = None) -> None:
        assert (response.status_code, reason(response)) == (status, expected), response.text[:300]
        assert census(app) == before
        audited = refusals(app)
        assert [(d["reason"], d["cause"]) for d in audited] == [(expected, cause)]
        logged = " ".join(str(record.__dict__) for record in caplog.records)
        for secret in (upstream.client_secret, code, *upstream_proxy.access_tokens):
            if secret:
                assert secret not in response.text and secret not in json.dumps(audited) and secret not in logged

    return check


def sign_in(browser: FederatedBrowser, start: str = START, **changes: str | None) -> tuple[requests.Response, str]:
    """Through the upstream and back (the callback changed as asked): the answer, and the code it carried."""
    callback = with_query(browser.upstream_answer(start), **changes)
    return browser.back(callback), query_of(callback)["code"]


# The discovery document: read when the browser sets out (nothing is fetched when a provider is configured).
@pytest.mark.parametrize(("case", "tamper", "cause"), [
    ("oversized", Tamper(json=merged(padding=OVERSIZED)), "discovery_failed"),
    ("not JSON", Tamper(body=b"<html>Welcome</html>", headers={"Content-Type": "text/html"}), "discovery_failed"),
    ("malformed JSON", Tamper(body=b'{"issuer": '), "discovery_failed"),
    ("a JSON array", Tamper(body=b"[]"), "discovery_failed"),
    ("a JSON string", Tamper(body=b'"hello"'), "discovery_failed"),
    ("a server error", Tamper(body=b"oops", status=500), "discovery_failed"),
    ("a redirect to another host", Tamper(body=b"", status=302, headers={"Location": f"{EVIL}{DISCOVERY}"}),
     "discovery_failed"),
    ("no authorization_endpoint", Tamper(json=without("authorization_endpoint")), "discovery_incomplete"),
    ("no token_endpoint", Tamper(json=without("token_endpoint")), "discovery_incomplete"),
    ("no jwks_uri", Tamper(json=without("jwks_uri")), "discovery_incomplete"),
    ("another issuer (Discovery §4.3)", Tamper(json=merged(issuer="https://evil.example")), "discovery_issuer_mismatch"),
    ("no issuer", Tamper(json=without("issuer")), "discovery_issuer_mismatch"),
    ("a plain http authorization_endpoint", Tamper(json=merged(authorization_endpoint=f"{EVIL}/authorize")),
     "discovery_malformed"),
    ("a javascript: authorization_endpoint", Tamper(json=merged(authorization_endpoint="javascript:alert(1)")),
     "discovery_malformed"),
    ("a plain http token_endpoint", Tamper(json=merged(token_endpoint=f"{EVIL}/token")), "discovery_malformed"),
    ("a plain http jwks_uri", Tamper(json=merged(jwks_uri=f"{EVIL}/jwks")), "discovery_malformed"),
    ("a userinfo_endpoint with user information", Tamper(json=merged(userinfo_endpoint="https://a:b@evil.example/")),
     "discovery_malformed"),
    ("an endpoint that is a number", Tamper(json=merged(token_endpoint=443)), "discovery_malformed"),
])
def test_a_hostile_discovery_document_refuses_at_the_start(browser, provider, upstream_proxy, assert_refused, case,
                                                           tamper, cause):
    upstream_proxy.tamper(DISCOVERY, tamper)
    response = browser.session.get(f"{browser.base_url}/federation/upstream/start", allow_redirects=False)
    assert_refused(response, 503, "upstream_unavailable", cause)
    assert "cannot be reached right now" in response.text


def test_a_discovery_document_that_never_comes_is_a_time_out(browser, provider, upstream_proxy, impatient_egress,
                                                              assert_refused):
    upstream_proxy.tamper(DISCOVERY, Tamper(delay=3))
    started = time.monotonic()
    response = browser.session.get(f"{browser.base_url}/federation/upstream/start", allow_redirects=False)
    assert time.monotonic() - started < 2.5
    assert_refused(response, 503, "upstream_unavailable", "discovery_failed")


def test_a_hostile_discovery_document_inside_an_authorization_request(app, make, browser, provider, upstream_proxy):
    """The relying party hears temporarily_unavailable at its registered redirect URI, with its state."""
    upstream_proxy.tamper(DISCOVERY, Tamper(json=merged(issuer="https://evil.example")))
    client = make.client()
    params = authorization_params(client, pkce_pair()[1], idp_hint="upstream")
    response = browser.to_upstream(f"/oauth/authorize?{urlencode(params)}")
    assert response.status_code == 302 and response.headers["Location"].startswith(client.redirect_uri)
    answer = query_of(response.headers["Location"])
    assert (answer["error"], answer["state"]) == ("temporarily_unavailable", params["state"])
    assert [d["cause"] for d in refusals(app)] == ["discovery_issuer_mismatch"] and census(app) == (0, 0, 0)


def test_a_token_endpoint_that_never_answers_is_a_time_out(browser, provider, upstream_proxy, impatient_egress,
                                                           assert_refused):
    upstream_proxy.tamper(TOKEN, Tamper(delay=3))
    response, code = sign_in(browser)
    assert_refused(response, 503, "upstream_unavailable", "token_request_failed", code=code)


# The JWKS: read at the callback, to check the ID token's signature.
SECRET_KEY = OctKey.import_key("a-shared-secret-of-32-bytes-long")


@pytest.mark.parametrize(("case", "jwks", "token", "status", "cause"), [
    ("oversized", Tamper(json=merged(padding=OVERSIZED)), None, 503, "jwks_failed"),
    ("not JSON", Tamper(body=b"keys!", headers={"Content-Type": "text/plain"}), None, 503, "jwks_failed"),
    ("malformed JSON", Tamper(body=b'{"keys": [}'), None, 503, "jwks_failed"),
    ("a server error", Tamper(body=b"", status=502), None, 503, "jwks_failed"),
    ("a redirect to another host", Tamper(body=b"", status=307, headers={"Location": f"{EVIL}/jwks"}), None, 503,
     "jwks_failed"),
    ("no keys", Tamper(body=b'{"keys": []}'), None, 400, "id_token_invalid"),
    ("keys that are not a list", Tamper(body=b'{"keys": "RSA"}'), None, 400, "id_token_invalid"),
    ("no keys member", Tamper(body=b'{"jwks": []}'), None, 400, "id_token_invalid"),
    ("a key of an unknown type", Tamper(body=b'{"keys": [{"kty": "XYZ", "kid": "k"}]}'), None, 400,
     "id_token_invalid"),
    ("an RSA key without its exponent", Tamper(body=b'{"keys": [{"kty": "RSA", "n": "AQAB"}]}'), None, 400,
     "id_token_invalid"),
    ("only a symmetric key, and an ID token signed with it (HS256)",
     Tamper(body=json.dumps({"keys": [SECRET_KEY.as_dict() | {"kid": SECRET_KEY.thumbprint()}]}).encode()),
     Tamper(claims=lambda claims: claims, key=SECRET_KEY, alg="HS256"), 400, "id_token_invalid"),
    ("a symmetric key under the upstream key's kid", None, None, 400, "id_token_invalid"),
])
def test_a_hostile_jwks_refuses_the_id_token(browser, provider, upstream, upstream_proxy, assert_refused, case,
                                             jwks, token, status, cause):
    if jwks is None:  # the ID token names the upstream's real key: the JWKS offers a shared secret in its place
        shared = SECRET_KEY.as_dict() | {"kid": upstream.signing_key().thumbprint(), "alg": "RS256"}
        jwks = Tamper(body=json.dumps({"keys": [shared]}).encode())
    upstream_proxy.tamper(JWKS, jwks)
    if token is not None:
        upstream_proxy.tamper(TOKEN, token)
    response, code = sign_in(browser)
    assert_refused(response, status, "upstream_unavailable" if status == 503 else "upstream_failed", cause, code=code)


def test_a_hostile_jwks_inside_an_authorization_request(app, make, browser, provider, upstream_proxy):
    upstream_proxy.tamper(JWKS, Tamper(json=merged(padding=OVERSIZED)))
    client = make.client()
    params = authorization_params(client, pkce_pair()[1], idp_hint="upstream")
    response, _ = sign_in(browser, f"/oauth/authorize?{urlencode(params)}")
    assert response.status_code == 302 and response.headers["Location"].startswith(client.redirect_uri)
    answer = query_of(response.headers["Location"])
    assert (answer["error"], answer["state"]) == ("temporarily_unavailable", params["state"])
    assert [d["cause"] for d in refusals(app)] == ["jwks_failed"] and census(app) == (0, 0, 0)


# User-info of an OpenID Connect provider: read after the ID token checked out.
@pytest.mark.parametrize(("case", "tamper", "status", "cause"), [
    ("oversized", Tamper(json=merged(padding=OVERSIZED)), 503, "userinfo_failed"),
    ("malformed JSON", Tamper(body=b'{"sub": "'), 503, "userinfo_failed"),
    ("a JSON array", Tamper(body=b'[{"sub": "x"}]'), 503, "userinfo_malformed"),
    ("a server error", Tamper(body=b"", status=500), 503, "userinfo_refused"),
    ("refused", Tamper(body=b'{"error": "invalid_token"}', status=401), 400, "userinfo_refused"),
    ("a redirect to another host", Tamper(body=b"", status=302, headers={"Location": f"{EVIL}/userinfo"}), 503,
     "userinfo_failed"),
    ("another person's sub (Core §5.3.2)", Tamper(json=merged(sub="someone-else")), 400, "userinfo_sub_mismatch"),
    ("no sub", Tamper(json=without("sub")), 400, "userinfo_sub_mismatch"),
    ("a sub that is an object", Tamper(json=merged(sub={"id": "x"})), 400, "userinfo_sub_mismatch"),
])
def test_a_hostile_userinfo_answer_is_refused(browser, provider, upstream_proxy, assert_refused, case, tamper, status,
                                              cause):
    upstream_proxy.tamper(USERINFO, tamper)
    response, code = sign_in(browser)
    assert_refused(response, status, "upstream_unavailable" if status == 503 else "upstream_failed", cause, code=code)


def _no_email(claims: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in claims.items() if key not in ("email", "email_verified")}


@pytest.mark.parametrize(("case", "claims", "userinfo"), [
    ("no email anywhere", _no_email, Tamper(json=without("email", "email_verified"))),
    ('email_verified "true", a string', lambda c: c | {"email_verified": "true"},
     Tamper(json=merged(email_verified="true"))),
    ("email_verified 1", lambda c: c | {"email_verified": 1}, Tamper(json=merged(email_verified=1))),
])
def test_no_account_without_an_email_the_upstream_vouches_for(browser, provider, upstream_proxy, assert_refused, case,
                                                              claims, userinfo):
    upstream_proxy.tamper(TOKEN, Tamper(claims=claims))
    upstream_proxy.tamper(USERINFO, userinfo)
    response, code = sign_in(browser)
    assert_refused(response, 400, "no_verified_email", "email_unverified", code=code)


def test_a_string_email_verified_never_finds_an_existing_account(app, make, browser, provider, upstream_proxy,
                                                                 assert_refused):
    make.user(email="alice@upstream.example", email_verified=True)
    upstream_proxy.tamper(TOKEN, Tamper(claims=lambda c: c | {"email_verified": "true"}))
    upstream_proxy.tamper(USERINFO, Tamper(json=merged(email_verified="true")))
    response, code = sign_in(browser)
    assert_refused(response, 409, "account_exists", "email_unverified", before=(1, 0, 0), code=code)


# The generic OAuth 2.0 path: no ID token, the person is whatever user-info says, through the claim mapping.
@pytest.mark.parametrize(("case", "userinfo", "status", "cause"), [
    ("no mapped subject claim", {"email": "alice@upstream.example", "email_verified": True}, 400, "sub_missing"),
    ("a subject that is an object", {"user_id": {"id": 1}}, 400, "sub_missing"),
    ("a subject that is an array", {"user_id": ["alice"]}, 400, "sub_missing"),
    ("a subject that is true", {"user_id": True}, 400, "sub_missing"),
    ("an empty subject", {"user_id": ""}, 400, "sub_missing"),
    ("a subject of 300 characters", {"user_id": "x" * 300}, 400, "sub_missing"),
    ("a subject with a line break", {"user_id": "alice\nadmin"}, 400, "sub_missing"),
    ("a name of 1 MB", {"user_id": "alice", "name": "x" * 1_000_000}, 503, "userinfo_failed"),
])
def test_hostile_oauth2_claims_are_refused(browser, add_oauth2_provider, upstream_proxy, assert_refused, case,
                                           userinfo, status, cause):
    add_oauth2_provider(claim_mapping={"sub": "user_id"})
    upstream_proxy.tamper(USERINFO, Tamper(json=lambda _: userinfo))
    response, code = sign_in(browser, "/federation/plain/start?next=/account")
    assert_refused(response, status, "upstream_unavailable" if status == 503 else "upstream_failed", cause, code=code)


@pytest.mark.parametrize(("case", "settings", "iss"), [
    ("no issuer configured, an iss sent", {"issuer": None}, "as sent"),
    ("another issuer's iss", {}, "https://evil.example"),
])
def test_an_oauth2_providers_iss_is_checked_against_its_configured_issuer(browser, add_oauth2_provider,
                                                                        assert_refused, case, settings, iss):
    """RFC 9207 without discovery: an iss is the configured issuer's, or the answer is refused."""
    add_oauth2_provider(**settings)
    response, code = sign_in(browser, "/federation/plain/start?next=/account",
                             **({} if iss == "as sent" else {"iss": iss}))
    assert_refused(response, 400, "upstream_failed", "iss_mismatch", code=code)


def test_long_claims_under_the_size_cap_are_cut_or_dropped(app, browser, add_oauth2_provider, upstream_proxy):
    """A 30 KB name is cut to 200 characters; a 30 KB email is no email; a numeric subject is a string."""
    add_oauth2_provider(claim_mapping={"sub": "user_id"})
    upstream_proxy.tamper(USERINFO, Tamper(json=lambda _: {
        "user_id": 4242, "name": "N" * 30_000, "email": "alice@upstream.example", "email_verified": True}))
    response, _ = sign_in(browser, "/federation/plain/start?next=/account")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.name == "N" * 200 and db.session.scalar(select(FederatedIdentity.subject)) == "4242"
    upstream_proxy.tamper(USERINFO, Tamper(json=lambda _: {
        "user_id": "other", "email": "a" * 30_000 + "@upstream.example", "email_verified": True}))
    again, _ = sign_in(FederatedBrowser(browser.base_url, browser.upstream), "/federation/plain/start")
    assert (again.status_code, reason(again)) == (400, "no_verified_email")
    assert census(app)[:2] == (1, 1)


@pytest.mark.parametrize(("case", "email", "status", "expected"), [
    # A Cyrillic а in the local part: not an address we store (a non-ASCII local part is refused), so no email.
    ("Cyrillic local part", "\u0430lice@upstream.example", 400, "no_verified_email"),
    # A Cyrillic е in the domain: another domain (xn--...), so another account, never Alice's.
    ("Cyrillic domain", "alice@upstr\u0435am.example", 302, None),
    # Full-width letters fold (NFKC) to Alice's address: that is her address, so proof is asked, nothing linked.
    ("full-width letters", "\uff41lice@upstream.example", 200, None),
    ("a right-to-left override", "alice\u202e@upstream.example", 400, "no_verified_email"),
])
def test_a_look_alike_email_never_reaches_another_account(app, make, browser, add_oauth2_provider, upstream_proxy,
                                                          case, email, status, expected):
    alice = make.user(email="alice@upstream.example", email_verified=True)
    add_oauth2_provider()
    upstream_proxy.tamper(USERINFO, Tamper(json=merged(email=email, email_verified=True)))
    response, _ = sign_in(browser, "/federation/plain/start?next=/account")
    assert response.status_code == status, response.text[:300]
    if expected:
        assert reason(response) == expected
    if status == 200:
        assert 'id="account-email">alice@upstream.example<' in response.text
    with app.app_context():
        assert not db.session.scalar(select(FederatedIdentity.id).where(FederatedIdentity.user_id == alice.id))
        assert not db.session.scalar(select(LoginSession.id).where(LoginSession.user_id == alice.id))
        others = list(db.session.scalars(select(User.email).where(User.id != alice.id)))
    assert others == (["alice@xn--upstram-chg.example"] if status == 302 else [])


# Microsoft Entra ID: issuers named by tenant id, checked against each ID token's own tid.
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MICROSOFT_START = "/federation/microsoft/start?next=/account"


@pytest.fixture
def microsoft(add_provider, upstream, upstream_proxy) -> Callable[..., None]:
    """microsoft(tenant, named, **claims): the microsoft preset at .../<tenant>/v2.0 on the upstream, whose
    discovery document is shaped like Entra ID's (the issuer .../<named>/v2.0, no RFC 9207 iss), and ID tokens
    with these claims (None removes one; an iss starting with / is on the upstream)."""
    document = without("authorization_response_iss_parameter_supported")(
        requests.get(upstream.url + DISCOVERY, timeout=10).json())

    def configure(tenant: str = "common", named: str = f"{upstream.url}/{{tenantid}}/v2.0", **claims: Any) -> None:
        upstream_proxy.tamper(f"/{tenant}/v2.0{DISCOVERY}", Tamper(body=json.dumps(document | {"issuer": named})
                                                                  .encode()))
        add_provider("microsoft", preset="microsoft", issuer=f"{upstream.url}/{tenant}/v2.0",
                     display_name="Microsoft")
        claims = {"email_verified": None, **claims}  # Entra ID asserts no email_verified
        if str(claims.get("iss", "")).startswith("/"):
            claims["iss"] = upstream.url + claims["iss"]
        upstream_proxy.tamper(TOKEN, Tamper(claims=lambda c: {
            key: value for key, value in (c | claims).items() if value is not None}))

    return configure


@pytest.mark.parametrize(("case", "claims", "status", "expected"), [
    ("the issuer of the token's tenant", {"tid": TENANT, "iss": f"/{TENANT}/v2.0", "xms_edov": True}, 302, None),
    ("another tenant's issuer", {"tid": TENANT, "iss": "/00000000-0000-0000-0000-000000000000/v2.0",
                                 "xms_edov": True}, 400, "upstream_failed"),
    ("no tid", {"iss": f"/{TENANT}/v2.0", "xms_edov": True}, 400, "upstream_failed"),
    ("a tid that is a path", {"tid": "../common", "iss": "/../common/v2.0", "xms_edov": True}, 400,
     "upstream_failed"),
    ("a tid that is the template", {"tid": "{tenantid}", "iss": "/{tenantid}/v2.0", "xms_edov": True}, 400,
     "upstream_failed"),
    ("the issuer template itself", {"tid": TENANT, "iss": "/{tenantid}/v2.0", "xms_edov": True}, 400,
     "upstream_failed"),
    ("no xms_edov: the email is not verified", {"tid": TENANT, "iss": f"/{TENANT}/v2.0"}, 400, "no_verified_email"),
    ('xms_edov "true"', {"tid": TENANT, "iss": f"/{TENANT}/v2.0", "xms_edov": "true"}, 400, "no_verified_email"),
])
def test_microsoft_checks_the_issuer_against_the_tokens_tenant(app, browser, microsoft, case, claims, status,
                                                               expected):
    microsoft(**claims)
    response, _ = sign_in(browser, MICROSOFT_START, iss=None)  # Entra ID sends no iss
    assert response.status_code == status, response.text[:300]
    if expected:
        assert reason(response) == expected and census(app) == (0, 0, 0)
        assert [d["reason"] for d in refusals(app)] == [expected]
    else:
        with app.app_context():
            assert db.session.scalar(select(User.email)) == "alice@upstream.example"


def test_microsoft_a_tenant_given_by_domain_is_its_tenant_ids_issuer(app, browser, upstream, microsoft):
    """Entra ID's document for contoso.example names https://.../<its GUID>/v2.0: tokens must name exactly that."""
    microsoft("contoso.example", f"{upstream.url}/{TENANT}/v2.0", tid=TENANT, iss=f"/{TENANT}/v2.0", xms_edov=True)
    response, _ = sign_in(browser, MICROSOFT_START, iss=None)
    assert response.status_code == 302 and response.headers["Location"] == "/account"


@pytest.mark.parametrize(("case", "named"), [
    ("the template on another host", "https://evil.example/{{tenantid}}/v2.0"),
    ("the template under another path", "{upstream}/evil/{{tenantid}}/v2.0"),
    ("a tenant that is no id", "{upstream}/evil/v2.0"),
    ("an upper-case template", "{upstream}/{{TENANTID}}/v2.0"),
    ("the template with a query", "{upstream}/{{tenantid}}/v2.0?x=1"),
])
def test_microsoft_refuses_a_document_naming_another_issuer(app, browser, upstream, microsoft, assert_refused, case,
                                                            named):
    microsoft(named=named.format(upstream=upstream.url))
    response = browser.session.get(browser.base_url + MICROSOFT_START, allow_redirects=False)
    assert_refused(response, 503, "upstream_unavailable", "discovery_issuer_mismatch")


# GitHub: the person from /user (numeric id), the verified primary email from /user/emails beside it.
@pytest.fixture
def github(add_provider, upstream, upstream_proxy) -> Callable[[Any], None]:
    """The github preset with its endpoints on the upstream; /user answers as GitHub's does, /user/emails as told."""
    add_provider("github", preset="github", authorization_endpoint=f"{upstream.url}/oauth/authorize",
                 token_endpoint=upstream.url + TOKEN, userinfo_endpoint=upstream.url + USERINFO,
                 scope="openid email", token_endpoint_auth_method="client_secret_basic", display_name="GitHub")
    upstream_proxy.tamper(TOKEN, Tamper(json=without("id_token")))
    upstream_proxy.tamper(USERINFO, Tamper(json=lambda _: {"id": 4242, "login": "alice", "name": "Alice",
                                                           "email": "public@upstream.example"}))

    def emails(answer: Any) -> None:
        body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        upstream_proxy.tamper(f"{USERINFO}/emails", Tamper(body=body))

    return emails


def _email(address: str, *, primary: bool, verified: Any) -> dict[str, Any]:
    return {"email": address, "primary": primary, "verified": verified, "visibility": None}


def test_github_takes_the_verified_primary_email(app, browser, github):
    github([_email("other@upstream.example", primary=False, verified=True),
            _email("alice@upstream.example", primary=True, verified=True)])
    response, _ = sign_in(browser, "/federation/github/start?next=/account", iss=None)  # GitHub sends no iss
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    with app.app_context():
        assert db.session.scalar(select(User.email)) == "alice@upstream.example"
        assert db.session.scalar(select(FederatedIdentity.subject)) == "4242"


@pytest.mark.parametrize(("case", "emails", "status", "expected"), [
    ("the primary unverified, another verified", [_email("alice@upstream.example", primary=True, verified=False),
                                                  _email("other@upstream.example", primary=False, verified=True)],
     400, "no_verified_email"),
    ("no primary", [_email("alice@upstream.example", primary=False, verified=True)], 400, "no_verified_email"),
    ('verified "true"', [_email("alice@upstream.example", primary=True, verified="true")], 400, "no_verified_email"),
    ("an object, not a list", {"email": "alice@upstream.example", "primary": True, "verified": True}, 400,
     "no_verified_email"),
    ("no emails", [], 400, "no_verified_email"),
    ("not JSON", b"<html>", 503, "upstream_unavailable"),
])
def test_github_refuses_without_a_verified_primary_email(app, browser, github, case, emails, status, expected):
    github(emails)
    response, _ = sign_in(browser, "/federation/github/start?next=/account", iss=None)
    assert (response.status_code, reason(response)) == (status, expected)
    assert census(app) == (0, 0, 0) and [d["reason"] for d in refusals(app)] == [expected]
