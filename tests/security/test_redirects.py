"""Point 6: no open redirect; redirect URIs registered safely and compared exactly; no repeated OAuth parameters."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import pytest
from werkzeug.datastructures import MultiDict

from app.errors import ValidationError
from app.services.clients import validate_redirect_uri
from tests.flows import assert_oauth_error, authorization_params, csrf_token, pkce_pair, sign_in

HIDDEN_NEXT = re.compile(r'name="next" value="([^"]*)"')
ORIGIN = "http://localhost"  # the Flask test client's
OPEN_REDIRECTS = [
    "https://evil.example/", "http://evil.example", "//evil.example", "///evil.example", "/\\evil.example",
    "\\\\evil.example", "\\/evil.example", "/\\/evil.example", "https:evil.example", "javascript:alert(1)",
    "data:text/html,x", " //evil.example", "/\t/evil.example", "/\n/evil.example", "%2F%2Fevil.example",
    "http://localhost@evil.example/", "//evil.example/%2F..", "／／evil.example", "/%5Cevil.example",
]


def lands_same_origin(location: str) -> bool:
    """Where a browser goes from /login with this Location, same scheme, host and port as we are."""
    target = urlsplit(urljoin(f"{ORIGIN}/login", location))
    return (target.scheme, target.netloc) == ("http", "localhost")


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_the_login_next_parameter_never_leaves_the_site(app, make, target):
    make.user("next@example.com")
    client = app.test_client()
    response = sign_in(client, "next@example.com", next_url=target)
    assert response.status_code == 302 and lands_same_origin(response.headers["Location"]), response.headers["Location"]
    # The query-string form (percent-encoded once more by the browser) is made safe before it reaches the page.
    page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert lands_same_origin(html.unescape(HIDDEN_NEXT.search(page).group(1)))


def test_a_local_next_is_kept(app, make):
    make.user("local@example.com")
    response = sign_in(app.test_client(), "local@example.com", next_url="/account/sessions?x=1")
    assert response.headers["Location"] == "/account/sessions?x=1"


def test_sign_out_only_redirects_to_a_registered_post_logout_uri(app, make):
    make.user("bye@example.com")
    registered = make.client(post_logout_redirect_uris=["https://app.example.com/bye"])
    client = app.test_client()
    sign_in(client, "bye@example.com")
    form = csrf_token(client.get("/logout").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": form, "next": "https://evil.example"}).headers["Location"] == "/"
    for uri in ("https://evil.example/bye", "https://app.example.com/bye/../evil", "https://APP.example.com/bye"):
        sign_in(client, "bye@example.com")
        query = {"client_id": registered.client_id, "post_logout_redirect_uri": uri}
        page = client.get("/oauth/logout", query_string=query)
        confirmed = client.post("/oauth/logout", query_string=query,
                                data={"csrf_token": csrf_token(page.get_data(as_text=True)), "confirm": "yes"})
        for response in (page, confirmed):
            assert "Location" not in response.headers, uri


@pytest.mark.parametrize("query", [
    {"client_id": "unknown", "redirect_uri": "https://evil.example/cb", "response_type": "code"},
    {"redirect_uri": "https://evil.example/cb", "response_type": "code"},
])
def test_an_unverifiable_authorization_request_shows_an_error_page_instead_of_redirecting(app, query):
    response = app.test_client().get("/oauth/authorize", query_string=query)
    assert response.status_code == 400 and "Location" not in response.headers


REGISTERED = "https://app.example.com/cb?x=1"


@pytest.mark.parametrize("presented", [
    "HTTPS://app.example.com/cb?x=1", "https://APP.example.com/cb?x=1", "https://app.example.com:443/cb?x=1",
    "https://app.example.com/cb/?x=1", "https://app.example.com/CB?x=1", "https://app.example.com/cb?x=2",
    "https://app.example.com/cb?x=1&y=2", "https://app.example.com/cb", "https://app.example.com/cb?x=1#frag",
    "https://app.example.com.evil.example/cb?x=1", "https://app.example.com/cb/../cb?x=1",
    "https://app.example.com/cb%3Fx=1", "https://app.example.com/cb?x=1 ", "http://app.example.com/cb?x=1",
    "https://evil.example/?https://app.example.com/cb?x=1",
])
def test_redirect_uris_are_compared_exactly(app, make, presented):
    registered = make.client(redirect_uris=[REGISTERED])
    _, challenge = pkce_pair()
    params = authorization_params(registered, challenge, redirect_uri=presented)
    response = app.test_client().get("/oauth/authorize", query_string=params)
    assert response.status_code == 400 and "Location" not in response.headers


def test_the_exact_registered_uri_is_accepted(app, make):
    registered = make.client(redirect_uris=[REGISTERED])
    _, challenge = pkce_pair()
    response = app.test_client().get("/oauth/authorize", query_string=authorization_params(registered, challenge))
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?")


@pytest.mark.parametrize("uri", [
    "https://app.example.com/cb#fragment", "https://app.example.com/cb#", "http://app.example.com/cb",
    "http://127.0.0.1.evil.example/cb", "http://localhost.evil.example/cb", "javascript:alert(1)//",
    "data:text/html,hi", "/relative/cb", "https:///cb", "https://app.example.com/c b", "file:///etc/passwd",
])
def test_unsafe_redirect_uris_are_refused_at_registration(uri):
    with pytest.raises(ValidationError):
        validate_redirect_uri(uri, "redirect_uris")


@pytest.mark.parametrize("uri", ["https://app.example.com/cb", "http://127.0.0.1:8765/cb", "http://[::1]/cb",
                                 "http://localhost:3000/cb", "com.example.app:/oauth/cb"])
def test_https_loopback_http_and_private_schemes_are_registrable(uri):
    assert validate_redirect_uri(uri, "redirect_uris") == uri


@pytest.mark.parametrize("name", ["client_id", "redirect_uri", "response_type", "scope", "state",
                                  "code_challenge", "code_challenge_method", "nonce"])
def test_a_repeated_authorization_parameter_is_refused(app, make, name):
    registered = make.client()
    _, challenge = pkce_pair()
    params = list(authorization_params(registered, challenge).items()) + [(name, "again")]
    response = app.test_client().get("/oauth/authorize", query_string=params)
    assert response.status_code == 400 and "Location" not in response.headers
    assert f"parameter &#39;{name}&#39; is repeated" in response.get_data(as_text=True)


def test_a_parameter_in_both_query_and_body_counts_as_repeated(app, make):
    registered = make.client()
    _, challenge = pkce_pair()
    params = authorization_params(registered, challenge)
    response = app.test_client().post("/oauth/authorize", query_string={"state": "one"}, data=params)
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["grant_type", "code", "redirect_uri", "code_verifier", "client_id", "scope"])
def test_a_repeated_token_parameter_is_refused(app, make, name):
    registered = make.client()
    data = [("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", registered.redirect_uri),
            ("code_verifier", "v" * 43), ("client_id", registered.client_id), ("scope", "openid")]
    response = app.test_client().post("/oauth/token", data=MultiDict(data + [(name, "again")]))
    assert response.status_code == 400
    assert response.json == {"error": "invalid_request", "error_description": f"parameter '{name}' is repeated"}


@pytest.mark.parametrize("path", ["/oauth/revoke", "/oauth/introspect"])
def test_a_repeated_token_is_refused_at_revocation_and_introspection(app, make, path):
    registered = make.client()
    response = app.test_client().post(path, data=MultiDict([("token", "a"), ("token", "b")]),
                                      auth=(registered.client_id, registered.client_secret))
    assert_oauth_error(response, "invalid_request")
