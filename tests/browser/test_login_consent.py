"""A person signs in and answers the consent page in a real browser; the relying party gets its answer."""

from __future__ import annotations

import re
from urllib.parse import quote

import jwt
from playwright.sync_api import expect

from tests.flows import exchange_code, query_of, tokens_for

PLAIN_SCOPES = [
    "Sign you in and know who you are",
    "See your name and username",
    "See your email address",
    "Stay connected when you are not using it",
]


def answer_consent(page, button: str, redirect_uri: str) -> dict[str, str]:
    """Click Allow or Deny and return the query the browser carried back to the relying party."""
    with page.expect_request(lambda request: request.url.startswith(redirect_uri + "?")) as callback:
        page.get_by_role("button", name=button, exact=True).click()
    expect(page).to_have_url(re.compile("^" + re.escape(redirect_uri + "?")))
    return query_of(callback.value.url)


def test_sign_in_and_allow_sends_a_code_to_the_relying_party(
    page, make, rp_client, live_server, sign_in, authorization_request, screenshot, browser_log
):
    user = make.user("alice@example.com", name="Alice")
    request = authorization_request(rp_client)

    page.goto(request.url)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.locator("main")).to_contain_text("to continue to Test App")
    expect(page.get_by_label("Email or username")).to_be_focused()
    screenshot(page, "login")
    sign_in(page, "alice@example.com")

    expect(page).to_have_url(re.compile(r"/oauth/authorize\?"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Test App wants to access your account")
    expect(page.locator("#scopes li")).to_have_text(PLAIN_SCOPES)
    expect(page.locator("main")).to_contain_text("alice@example.com")
    expect(page.locator("main")).not_to_contain_text("offline_access")
    screenshot(page, "consent")

    query = answer_consent(page, "Allow", rp_client.redirect_uri)
    assert set(query) == {"code", "state", "iss"}
    assert query["state"] == request.params["state"]
    assert query["iss"] == live_server  # RFC 9207

    response = exchange_code(live_server, rp_client, query["code"], request.verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert {"access_token", "id_token", "refresh_token"} <= tokens.keys()
    key = jwt.PyJWKClient(f"{live_server}/.well-known/jwks.json").get_signing_key_from_jwt(tokens["id_token"])
    claims = jwt.decode(
        tokens["id_token"], key.key, algorithms=["RS256"], audience=rp_client.client_id, issuer=live_server
    )
    assert claims["sub"] == user.sub
    assert claims["nonce"] == request.params["nonce"]
    assert browser_log.errors == []


def test_deny_sends_access_denied_to_the_relying_party(
    page, make, rp_client, live_server, sign_in, authorization_request
):
    make.user("bob@example.com")
    request = authorization_request(rp_client)

    page.goto(request.url)
    sign_in(page, "bob@example.com")
    query = answer_consent(page, "Deny", rp_client.redirect_uri)

    assert query["error"] == "access_denied"
    assert query["state"] == request.params["state"]
    assert query["iss"] == live_server
    assert "code" not in query


def test_wrong_password_and_unknown_user_get_the_same_answer(
    page, make, rp_client, sign_in, authorization_request, screenshot, browser_log
):
    make.user("carol@example.com")
    page.goto(authorization_request(rp_client).url)

    answers = []
    for login, password in [("carol@example.com", "not her password at all"), ("nobody@example.com", "whatever-123")]:
        posted = sign_in(page, login, password)
        expect(page.get_by_role("alert")).to_have_text("Invalid credentials.")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
        expect(page.get_by_label("Email or username")).to_have_value(login)
        expect(page.get_by_label("Password")).to_have_value("")
        expect(page.get_by_label("Password")).to_be_focused()
        assert "/login" in page.url
        answers.append((posted.status, page.locator("main").inner_text()))
        if len(answers) == 1:
            screenshot(page, "login-error")

    assert answers[0] == answers[1]
    assert answers[0][0] == 401

    # The authorization request survives the failed attempts.
    sign_in(page, "carol@example.com")
    expect(page.get_by_role("heading", level=1)).to_have_text("Test App wants to access your account")
    assert browser_log.errors == []


def test_login_hint_fills_in_the_account_and_focuses_the_password(page, rp_client, authorization_request):
    page.goto(authorization_request(rp_client, login_hint="ivy@example.com").url)
    expect(page.get_by_label("Email or username")).to_have_value("ivy@example.com")
    expect(page.get_by_label("Password")).to_be_focused()


def test_consent_is_remembered_for_the_same_scopes(page, make, rp_client, sign_in, authorization_request):
    make.user("dave@example.com")
    first = authorization_request(rp_client, scope="openid profile")
    page.goto(first.url)
    sign_in(page, "dave@example.com")
    answer_consent(page, "Allow", rp_client.redirect_uri)

    again = authorization_request(rp_client, scope="openid profile")
    with page.expect_request(lambda request: request.url.startswith(rp_client.redirect_uri + "?")) as callback:
        page.goto(again.url)
    query = query_of(callback.value.url)
    assert query["state"] == again.params["state"] and "code" in query

    wider = authorization_request(rp_client, scope="openid profile email")
    page.goto(wider.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Test App wants to access your account")
    expect(page.locator("#scopes li")).to_have_text(PLAIN_SCOPES[:3])


def test_the_consent_page_names_the_resource_the_token_goes_to(
    page, make, relying_party, live_server, sign_in, authorization_request, screenshot, browser_log
):
    """RFC 8707: the person sees which API the app will use the access with, and is asked again for another."""
    make.user("rae@example.com")
    make.resource("https://billing.example.com", scope="billing:read", name="Billing API")
    make.resource("https://reports.example.com", scope="billing:read", name="Reports API")
    client = make.client(redirect_uris=[f"{relying_party}/callback"], scope="openid billing:read",
                         resources=["https://billing.example.com", "https://reports.example.com"])
    request = authorization_request(client, scope="openid billing:read", resource="https://billing.example.com")

    page.goto(request.url)
    sign_in(page, "rae@example.com")
    expect(page.locator("#resource")).to_have_text("Billing API https://billing.example.com")
    screenshot(page, "consent-resource")
    query = answer_consent(page, "Allow", client.redirect_uri)
    access_token = exchange_code(live_server, client, query["code"], request.verifier).json()["access_token"]
    assert jwt.decode(access_token, options={"verify_signature": False})["aud"] == "https://billing.example.com"

    page.goto(authorization_request(client, scope="openid billing:read", resource="https://reports.example.com").url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Test App wants to access your account")
    expect(page.locator("#resource")).to_have_text("Reports API https://reports.example.com")
    assert browser_log.errors == []


def test_a_hint_about_another_account_asks_that_person_to_sign_in(
    page, make, rp_client, live_server, sign_in, authorization_request, screenshot, browser_log
):
    """OpenID Connect Core §3.1.2.1: the app sends Bob's ID token as id_token_hint while Alice is signed in."""
    make.user("alice@example.com")
    bob = make.user("bob@example.com")
    bobs_id_token = tokens_for(live_server, rp_client, "bob@example.com")["id_token"]
    page.goto("/login")
    sign_in(page, "alice@example.com")

    quiet = authorization_request(rp_client, prompt="none", id_token_hint=bobs_id_token)
    with page.expect_request(lambda request: request.url.startswith(rp_client.redirect_uri + "?")) as callback:
        page.goto(quiet.url)
    assert query_of(callback.value.url)["error"] == "login_required"

    request = authorization_request(rp_client, id_token_hint=bobs_id_token)
    page.goto(request.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.locator("#account-requested")).to_have_text("Test App asked you to sign in with a particular account.")
    screenshot(page, "login-account-requested")
    with page.expect_request(lambda request: request.url.startswith(rp_client.redirect_uri + "?")) as callback:
        sign_in(page, "bob@example.com")  # Bob allowed Test App before
    query = query_of(callback.value.url)
    id_token = exchange_code(live_server, rp_client, query["code"], request.verifier).json()["id_token"]
    assert jwt.decode(id_token, options={"verify_signature": False})["sub"] == bob.sub
    assert browser_log.errors == []


def test_unknown_client_shows_an_error_page_and_never_redirects(page, live_server, rp_client, screenshot, browser_log):
    response = page.goto(
        f"{live_server}/oauth/authorize?response_type=code&client_id=no-such-client"
        f"&redirect_uri={quote(rp_client.redirect_uri, safe='')}&state=s1"
    )
    assert response.status == 400
    assert page.url.startswith(live_server)
    expect(page.get_by_role("heading", level=1)).to_have_text("This app is not known here")
    expect(page.locator("#error-code")).to_have_text("invalid_client")
    expect(page.locator("#back-to-app")).to_have_count(0)  # an app nobody registered gets no way back
    screenshot(page, "error")
    assert browser_log.errors == []
