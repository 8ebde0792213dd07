"""OpenID Connect RP-Initiated Logout 1.0 over real HTTP."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from app.extensions import db
from app.models import LoginSession
from tests.factories import Factories, RegisteredClient
from tests.flows import Browser, authorization_params, csrf_token, exchange_code, pkce_pair, query_of
from tests.site import Site

SIGNED_OUT_URI = "http://127.0.0.1:8765/signed-out"
ERROR_CODE = re.compile(r'<code id="error-code">([^<]+)</code>')


@dataclass
class SignedIn:
    browser: Browser
    rp: RegisteredClient
    id_token: str

    def logout(self, method: str = "GET", **params: str) -> requests.Response:
        url = f"{self.browser.base_url}/oauth/logout"
        if method == "GET":
            return self.browser.session.get(url, params=params, allow_redirects=False)
        return self.browser.session.post(url, data=params, allow_redirects=False)

    def is_signed_in(self) -> bool:
        """An authorization request goes to /login once the session has ended."""
        _, challenge = pkce_pair()
        response = self.browser.session.get(
            f"{self.browser.base_url}/oauth/authorize", params=authorization_params(self.rp, challenge),
            allow_redirects=False,
        )
        return not (response.status_code == 302 and "/login" in response.headers["Location"])


def sign_in(site: Site, make: Factories, rp: RegisteredClient, email: str) -> SignedIn:
    make.user(email)
    browser = Browser(site)
    assert browser.login(email).status_code == 302
    verifier, challenge = pkce_pair()
    response = browser.authorize(authorization_params(rp, challenge))
    code = query_of(response.headers["Location"])["code"]
    tokens = exchange_code(site, rp, code, verifier).json()
    return SignedIn(browser, rp, tokens["id_token"])


@pytest.fixture
def rp(make) -> RegisteredClient:
    return make.client(post_logout_redirect_uris=[SIGNED_OUT_URI])


@pytest.fixture
def alice(site, make, rp) -> SignedIn:
    return sign_in(site, make, rp, "alice@example.com")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_valid_hint_signs_out_and_redirects_with_state(alice, method):
    old_cookies = alice.browser.session.cookies.copy()

    response = alice.logout(method, id_token_hint=alice.id_token, post_logout_redirect_uri=SIGNED_OUT_URI,
                            state="xyz 1")

    assert response.status_code == 302
    assert response.headers["Location"].startswith(SIGNED_OUT_URI + "?")
    assert query_of(response.headers["Location"]) == {"state": "xyz 1"}
    assert not alice.is_signed_in()
    # The session is ended server-side: replaying the old cookie does not sign in either.
    alice.browser.session.cookies = old_cookies
    assert not alice.is_signed_in()


def test_a_post_without_the_session_cookie_is_repeated_as_a_top_level_get(alice):
    """A relying party's cross-site POST carries no SameSite=Lax cookie: 303 to the same request as a GET."""
    params = {"id_token_hint": alice.id_token, "post_logout_redirect_uri": SIGNED_OUT_URI, "state": "a b&c=d"}
    url = f"{alice.browser.base_url}/oauth/logout"

    response = alice.browser.site.post(url, data=params, allow_redirects=False)  # what arrives without the cookie

    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/oauth/logout?") and query_of(location) == params
    assert alice.is_signed_in()  # nothing ended yet: the request named no session
    followed = alice.browser.session.get(alice.browser.base_url + location, allow_redirects=False)
    assert followed.headers["Location"] == SIGNED_OUT_URI + "?state=a+b%26c%3Dd"
    assert not alice.is_signed_in()


def test_our_confirmation_form_is_never_turned_into_a_get(site):
    """Only the RP's request is repeated; a confirmation without the cookie or its CSRF token is refused."""
    response = site.post("/oauth/logout", data={"confirm": "yes"}, allow_redirects=False)
    assert response.status_code == 400 and "Location" not in response.headers


def test_the_login_session_is_revoked_in_storage(alice, app):
    alice.logout(id_token_hint=alice.id_token)
    with app.app_context():
        assert [s.revoked_at is not None for s in db.session.scalars(select(LoginSession))] == [True]


def test_a_matching_client_id_is_accepted(alice):
    response = alice.logout(id_token_hint=alice.id_token, client_id=alice.rp.client_id,
                            post_logout_redirect_uri=SIGNED_OUT_URI)
    assert response.headers["Location"] == SIGNED_OUT_URI


def test_without_state_the_uri_is_used_as_registered(alice):
    response = alice.logout(id_token_hint=alice.id_token, post_logout_redirect_uri=SIGNED_OUT_URI)
    assert response.headers["Location"] == SIGNED_OUT_URI


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/signed-out",
        SIGNED_OUT_URI + "/",
        SIGNED_OUT_URI + "?x=1",
        SIGNED_OUT_URI.upper(),
        "http://127.0.0.1:8765/callback",  # a redirect_uri, not a post-logout one
    ],
)
def test_an_unregistered_post_logout_uri_is_never_followed(alice, uri):
    """§3: the OP MUST NOT redirect to a URI that does not exactly match a registered one."""
    response = alice.logout(id_token_hint=alice.id_token, post_logout_redirect_uri=uri, state="s")

    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "signed out" in response.text
    assert not alice.is_signed_in()
    # The RP's developer is told why, on the page: folded away under the details.
    assert ("post_logout_redirect_uri was ignored: it is not one of the client&#39;s registered "
            "post_logout_redirect_uris (they must match exactly)") in response.text


def test_an_expired_hint_is_still_accepted(alice, make):
    """§2: the OP SHOULD accept ID tokens whose exp has passed."""
    claims = jwt.decode(alice.id_token, options={"verify_signature": False})
    expired = make.jwt({**claims, "iat": claims["iat"] - 7200, "exp": int(time.time()) - 3600}, typ=None)

    response = alice.logout(id_token_hint=expired, post_logout_redirect_uri=SIGNED_OUT_URI)

    assert response.headers["Location"] == SIGNED_OUT_URI
    assert not alice.is_signed_in()


def _bad_hint(kind: str, alice: SignedIn, make: Factories) -> dict[str, str]:
    claims = jwt.decode(alice.id_token, options={"verify_signature": False})
    header = jwt.get_unverified_header(alice.id_token)
    match kind:
        case "garbage":
            return {"id_token_hint": "not-a-jwt"}
        case "tampered payload":
            head, _, signature = alice.id_token.split(".")
            forged = jwt.encode({**claims, "sub": "someone-else"}, "k" * 32, algorithm="HS256").split(".")[1]
            return {"id_token_hint": f"{head}.{forged}.{signature}"}
        case "tampered signature":
            head, payload, signature = alice.id_token.split(".")
            return {"id_token_hint": f"{head}.{payload}.{signature[::-1]}"}
        case "unsigned":
            return {"id_token_hint": jwt.encode(claims, None, algorithm="none")}
        case "signed by another key with our kid":
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return {"id_token_hint": jwt.encode(claims, other, algorithm="RS256", headers={"kid": header["kid"]})}
        case "another issuer":
            return {"id_token_hint": make.jwt({**claims, "iss": "https://evil.example"}, typ=None)}
        case "an access token":
            return {"id_token_hint": make.jwt({**claims, "client_id": claims["aud"], "jti": "j"})}
        case "client_id not the audience":
            return {"id_token_hint": alice.id_token, "client_id": make.client().client_id}
        case "non-ascii":
            return {"id_token_hint": "é.é.é"}
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "garbage", "tampered payload", "tampered signature", "unsigned", "signed by another key with our kid",
        "another issuer", "an access token", "client_id not the audience", "non-ascii",
    ],
)
def test_an_invalid_hint_is_an_error_page_and_nothing_happens(alice, make, kind):
    """§4: on an error, no redirection; the session is left alone."""
    response = alice.logout(**_bad_hint(kind, alice, make), post_logout_redirect_uri=SIGNED_OUT_URI, state="s")

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert ERROR_CODE.search(response.text).group(1) == "invalid_request"
    assert alice.is_signed_in()


def test_without_a_hint_the_user_is_asked_first(alice):
    """§6: a logout request without a valid id_token_hint needs the End-User's confirmation."""
    response = alice.logout(client_id=alice.rp.client_id, post_logout_redirect_uri=SIGNED_OUT_URI, state="s")

    assert response.status_code == 200
    assert 'name="confirm"' in response.text and "Test App" in response.text
    assert alice.is_signed_in()


def test_a_hint_about_someone_else_is_confirmed_first(site, make, rp, alice):
    bob = sign_in(site, make, rp, "bob@example.com")

    response = alice.logout(id_token_hint=bob.id_token, post_logout_redirect_uri=SIGNED_OUT_URI)

    assert response.status_code == 200 and 'name="confirm"' in response.text
    assert alice.is_signed_in() and bob.is_signed_in()


def test_confirming_with_the_csrf_token_signs_out(alice):
    page = alice.logout(client_id=alice.rp.client_id, post_logout_redirect_uri=SIGNED_OUT_URI)

    response = alice.logout("POST", confirm="yes", csrf_token=csrf_token(page.text), client_id=alice.rp.client_id,
                            post_logout_redirect_uri=SIGNED_OUT_URI)

    # Without an id_token_hint the OP has no proof the URI is the RP's wish (§3): no redirection.
    assert response.status_code == 200 and "Location" not in response.headers
    assert "signed out" in response.text
    assert not alice.is_signed_in()


def test_confirming_a_hint_about_someone_else_then_redirects(site, make, rp, alice):
    bob = sign_in(site, make, rp, "bob@example.com")
    page = alice.logout(id_token_hint=bob.id_token, post_logout_redirect_uri=SIGNED_OUT_URI)

    response = alice.logout("POST", confirm="yes", csrf_token=csrf_token(page.text), id_token_hint=bob.id_token,
                            post_logout_redirect_uri=SIGNED_OUT_URI)

    assert response.headers["Location"] == SIGNED_OUT_URI
    assert not alice.is_signed_in()
    assert bob.is_signed_in()


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_confirming_without_a_valid_csrf_token_is_refused(alice, token):
    alice.logout()  # the confirmation page sets the CSRF cookie
    form = {"confirm": "yes"} | ({"csrf_token": token} if token is not None else {})

    response = alice.logout("POST", **form)

    assert response.status_code == 400
    assert alice.is_signed_in()


def test_signed_out_already_and_no_hint_is_a_plain_page(site):
    response = site.get("/oauth/logout", allow_redirects=False)
    assert response.status_code == 200 and "signed out" in response.text


def test_a_valid_hint_without_a_session_still_redirects(site, alice):
    response = site.get(
        "/oauth/logout", params={"id_token_hint": alice.id_token, "post_logout_redirect_uri": SIGNED_OUT_URI},
        allow_redirects=False,
    )
    assert response.headers["Location"] == SIGNED_OUT_URI
    assert alice.is_signed_in()


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"post_logout_redirect_uri": SIGNED_OUT_URI},
         "the request names no client (send id_token_hint or client_id)"),
        ({"client_id": "{client_id}", "post_logout_redirect_uri": SIGNED_OUT_URI},
         "it is followed only with an id_token_hint"),
        ({"client_id": "{client_id}", "post_logout_redirect_uri": "https://evil.example/out"},
         "it is not one of the client&#39;s registered post_logout_redirect_uris (they must match exactly)"),
    ],
    ids=["no client", "no hint", "unregistered"],
)
def test_the_signed_out_page_tells_the_developer_why_the_redirect_was_ignored(alice, params, reason):
    """Confirmed sign-outs that could not be redirected: the page says why, under the developer's details."""
    params = {name: value.format(client_id=alice.rp.client_id) for name, value in params.items()}
    page = alice.logout(**params)
    confirmed = alice.logout("POST", **params, confirm="yes", csrf_token=csrf_token(page.text))

    assert confirmed.status_code == 200 and "Location" not in confirmed.headers
    assert f'<p id="ignored-redirect">post_logout_redirect_uri was ignored: {reason}</p>' in confirmed.text
    assert not alice.is_signed_in()


def test_no_developer_note_when_nothing_was_ignored(alice):
    response = alice.logout(id_token_hint=alice.id_token)
    assert response.status_code == 200 and "ignored-redirect" not in response.text
