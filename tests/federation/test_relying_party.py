"""What a relying party sees of a federated sign-in: our sub, amr fed, the idp claim, tokens that refresh like
any other; and the spec's errors when the upstream refuses or is down inside its authorization request."""

from __future__ import annotations

from urllib.parse import urlencode

import jwt as pyjwt
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, User
from tests.federation.test_attacks import with_query
from tests.flows import authorization_params, consent_form, exchange_code, pkce_pair, query_of, refresh, userinfo

SIGNED_OUT_URI = "http://127.0.0.1:8765/signed-out"


def _authorize_path(client, **extra: str) -> tuple[str, dict[str, str], str]:
    verifier, challenge = pkce_pair()
    params = authorization_params(client, challenge, **extra)
    return f"/oauth/authorize?{urlencode(params)}", params, verifier


def _tokens_through_upstream(browser, client, live_server: str) -> tuple[dict[str, str], dict[str, str]]:
    """An authorization request with idp_hint, through the upstream and our consent, to tokens: (params, tokens)."""
    path, params, verifier = _authorize_path(client, idp_hint="upstream")
    callback = browser.upstream_answer(path)  # idp_hint: straight past our sign-in page to the upstream
    back = browser.back(callback)
    assert back.status_code == 302 and back.headers["Location"].startswith("/oauth/authorize?")
    consent = browser.session.get(live_server + back.headers["Location"], allow_redirects=False)
    assert consent.status_code == 200
    decided = browser.session.post(f"{live_server}/oauth/authorize",
                                   data=consent_form(consent.text) | {"decision": "allow"}, allow_redirects=False)
    answer = query_of(decided.headers["Location"])
    assert answer["state"] == params["state"] and answer["iss"] == live_server
    return params, exchange_code(live_server, client, answer["code"], verifier).json()


def test_continue_with_upstream_all_the_way_to_verified_tokens(app, make, browser, provider, live_server):
    client = make.client()
    params, tokens = _tokens_through_upstream(browser, client, live_server)

    signing_key = pyjwt.PyJWKClient(f"{live_server}/.well-known/jwks.json").get_signing_key_from_jwt(tokens["id_token"])
    claims = pyjwt.decode(tokens["id_token"], signing_key.key, algorithms=["RS256"], audience=client.client_id,
                          issuer=live_server)
    with app.app_context():
        ours = db.session.scalar(select(User).where(User.email == "alice@upstream.example"))
        assert claims["sub"] == ours.sub
    assert claims["amr"] == ["fed"] and claims["idp"] == "upstream" and claims["nonce"] == params["nonce"]
    assert userinfo(live_server, tokens["access_token"]).json()["email"] == "alice@upstream.example"
    rotated = refresh(live_server, client, tokens["refresh_token"])
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != tokens["refresh_token"]


def test_consent_and_sign_out_after_a_federated_sign_in_are_those_of_any_other(make, browser, provider, live_server):
    """The consent given is remembered, and RP-initiated logout ends the session (the upstream's is its own)."""
    client = make.client(post_logout_redirect_uris=[SIGNED_OUT_URI])
    _, tokens = _tokens_through_upstream(browser, client, live_server)
    path, params, _ = _authorize_path(client)
    again = browser.session.get(live_server + path, allow_redirects=False)
    assert again.status_code == 302 and query_of(again.headers["Location"])["state"] == params["state"]
    signed_out = browser.session.get(f"{live_server}/oauth/logout", allow_redirects=False, params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": SIGNED_OUT_URI, "state": "bye"})
    assert signed_out.status_code == 302 and signed_out.headers["Location"] == f"{SIGNED_OUT_URI}?state=bye"
    after = browser.session.get(live_server + _authorize_path(client)[0], allow_redirects=False)
    assert after.status_code == 302 and after.headers["Location"].startswith("/login?")
    assert browser.session.get(f"{live_server}/account", allow_redirects=False).status_code == 302


def test_an_oauth2_provider_without_id_tokens(app, make, browser, add_oauth2_provider):
    """The generic OAuth 2.0 path: no ID token (the proxy strips it), the person from the user-info endpoint."""
    add_oauth2_provider()
    response = browser.sign_in("/federation/plain/start?next=/account")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    with app.app_context():
        assert db.session.scalar(select(User.email)) == "alice@upstream.example"


def test_a_cancelled_upstream_sign_in_is_access_denied_to_the_relying_party(app, make, browser, provider):
    client = make.client()
    path, params, _ = _authorize_path(client)
    login_page = browser.session.get(browser.base_url + path)
    assert 'id="continue-with-upstream"' in login_page.text  # the button on our sign-in page
    start = login_page.text.split('id="continue-with-upstream"', 1)[1].split('href="', 1)[1].split('"', 1)[0]
    response = browser.sign_in(start.replace("&amp;", "&"), login="frank@upstream.example", decision="deny")
    assert response.status_code == 302 and response.headers["Location"].startswith(client.redirect_uri)
    answer = query_of(response.headers["Location"])
    assert (answer["error"], answer["state"], answer["iss"]) == ("access_denied", params["state"], browser.base_url)


def test_an_upstream_that_is_down_is_temporarily_unavailable_to_the_relying_party(make, browser, add_provider):
    from tests.processes import free_port

    add_provider("down", issuer=f"http://127.0.0.1:{free_port()}")
    client = make.client()
    path, params, _ = _authorize_path(client, idp_hint="down")
    response = browser.to_upstream(path)
    assert response.status_code == 302 and response.headers["Location"].startswith(client.redirect_uri)
    answer = query_of(response.headers["Location"])
    assert (answer["error"], answer["state"]) == ("temporarily_unavailable", params["state"])


def test_a_made_up_redirect_uri_gets_a_page_not_a_redirect(make, browser, provider):
    """The error goes only to a redirect URI registered for the client named in the authorization request."""
    client = make.client()
    path, _, _ = _authorize_path(client, redirect_uri="https://evil.example/cb")
    start = "/federation/upstream/start?" + urlencode({"next": path})
    response = browser.sign_in(start, login="frank@upstream.example", decision="deny")
    assert response.status_code == 400 and "upstream_denied" in response.text


def test_the_sign_up_page_offers_the_providers_while_sign_up_is_open(app, client, provider, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNUP", "open")
    assert 'id="continue-with-upstream"' in client.get("/signup?next=/account").text
    monkeypatch.setitem(app.config, "SIGNUP", "closed")
    assert 'id="continue-with-upstream"' not in client.get("/signup").text


@pytest.mark.parametrize(("upstream_error", "expected"), [
    ("access_denied", "access_denied"),
    ("login_required", "access_denied"),
    ("temporarily_unavailable", "temporarily_unavailable"),
    ("server_error", "temporarily_unavailable"),
    ("\x00<script>", "access_denied"),
    ("x" * 5000, "access_denied"),
])
def test_an_upstream_error_is_the_spec_error_to_the_relying_party(app, make, browser, provider, upstream_error,
                                                                   expected):
    """RFC 6749 §4.1.2.1 at the upstream, passed on as access_denied (it refused) or temporarily_unavailable (it
    could not sign the person in now); whatever the upstream wrote, the relying party hears only our error."""
    client = make.client()
    path, params, _ = _authorize_path(client, idp_hint="upstream")
    callback = with_query(browser.upstream_answer(path), code=None, error=upstream_error,
                          error_description="<b>" + "y" * 3000)
    response = browser.back(callback)
    assert response.status_code == 302 and response.headers["Location"].startswith(client.redirect_uri + "?")
    answer = query_of(response.headers["Location"])
    assert (answer["error"], answer["state"]) == (expected, params["state"])
    assert upstream_error not in response.headers["Location"] or upstream_error == expected
    with app.app_context():
        audited = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "federation.sign_in"))
        assert (audited.outcome, audited.details["reason"]) == ("failure", "upstream_denied")
        assert len(audited.details["cause"]) <= 64 and audited.details["cause"].isprintable()
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
