"""pyoidc (the `oic` package), as a relying party uses it out of the box: discovery, code flow with PKCE, ID token
checks, and userinfo with its default request, a POST with the access token in the form body (RFC 6750 §2.2)."""

from __future__ import annotations

from oic import rndstr
from oic.oic import Client
from oic.oic.message import AuthorizationResponse, OpenIDSchema, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from tests.flows import Browser, query_of


def test_pyoidc_signs_in_and_reads_userinfo_with_its_defaults(live_server, make):
    alice = make.user("alice@example.com", name="Alice", username="alice")
    registered = make.client(scope="openid profile email")
    rp = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    rp.provider_config(live_server)  # discovery, issuer check, JWKS into its key jar
    rp.store_registration_info(RegistrationResponse(
        client_id=registered.client_id, client_secret=registered.client_secret,
        redirect_uris=[registered.redirect_uri]))
    state, nonce = rndstr(), rndstr()
    pkce, verifier = rp.add_code_challenge()  # S256 by default
    request = rp.construct_AuthorizationRequest(request_args={
        "response_type": "code", "scope": ["openid", "profile", "email"], "state": state, "nonce": nonce,
        "redirect_uri": registered.redirect_uri, **pkce})

    browser = Browser(live_server)
    browser.login("alice@example.com")
    answer = browser.authorize(query_of(request.request(rp.authorization_endpoint)))
    assert answer.status_code == 302, answer.text
    authorization = rp.parse_response(AuthorizationResponse, info=answer.headers["Location"].split("?", 1)[1],
                                      sformat="urlencoded")
    assert authorization["state"] == state

    tokens = rp.do_access_token_request(state=state, request_args={"code": authorization["code"],
                                                                   "code_verifier": verifier},
                                        authn_method="client_secret_basic")
    assert tokens["id_token"]["sub"] == alice.sub  # verified by pyoidc: signature, iss, aud, nonce
    assert tokens["id_token"]["nonce"] == nonce

    claims = rp.do_user_info_request(state=state)  # POST, token in the body: pyoidc's default
    assert isinstance(claims, OpenIDSchema)
    assert (claims["sub"], claims["email"], claims["preferred_username"]) == (alice.sub, "alice@example.com", "alice")
    assert rp.do_user_info_request(state=state, method="GET")["sub"] == alice.sub  # the header, on a GET
