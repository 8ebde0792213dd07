"""Authlib's OAuth client (what federation uses) sends through the same policy: there is no second way out."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from flask import Flask

from app.egress import AddressRefused, Egress, RedirectRefused, ResponseTooLarge, TLSFailed
from tests.egress.conftest import LocalServer, send_json


@pytest.fixture
def upstream(https: LocalServer) -> Iterator[LocalServer]:
    """The test server as an OpenID provider: discovery and JWKS documents."""
    discovery = {
        "issuer": https.url(""),
        "authorization_endpoint": https.url("/authorize"),
        "token_endpoint": https.url("/token"),
        "jwks_uri": https.url("/jwks-json"),
    }
    https.routes["/.well-known/openid-configuration"] = lambda h: send_json(h, discovery)
    https.routes["/jwks-json"] = lambda h: send_json(h, {"keys": []})
    yield https
    del https.routes["/.well-known/openid-configuration"], https.routes["/jwks-json"]


def test_an_oauth2_session_fetches_a_token_through_the_policy(egress: Egress, https: LocalServer) -> None:
    session_class = egress.oauth2_session_class()
    with session_class(client_id="rp", client_secret="s3cret", token_endpoint_auth_method="client_secret_post") as s:
        token = s.fetch_token(https.url("/token"), grant_type="client_credentials")
    assert token["access_token"] == "at"
    method, _, headers = https.log[-1]
    assert method == "POST" and headers["Content-Type"].startswith("application/x-www-form-urlencoded")


def test_a_flask_client_loads_discovery_and_jwks_through_the_policy(egress: Egress, upstream: LocalServer) -> None:
    """The way federation registers an upstream: FlaskOAuth2App with client_cls from app/egress."""

    class UpstreamApp(FlaskOAuth2App):
        client_cls = egress.oauth2_session_class()

    oauth = OAuth(Flask(__name__))
    client = oauth.register(
        "upstream", client_cls=UpstreamApp, client_id="rp", client_secret="s3cret",
        server_metadata_url=upstream.url("/.well-known/openid-configuration"),
    )
    assert client.load_server_metadata()["token_endpoint"] == upstream.url("/token")
    assert client.fetch_jwk_set() == {"keys": []}


def test_a_policed_session_refuses_what_fetch_refuses(
    strict: Egress, egress: Egress, https: LocalServer, start_server: Callable[..., LocalServer]
) -> None:
    before = https.connections
    with pytest.raises(AddressRefused):
        strict.session().get(https.url("/doc"))
    assert https.connections == before
    with pytest.raises(RedirectRefused):
        egress.session().get(https.url("/redirect/302?to=http://169.254.169.254/"))
    with pytest.raises(ResponseTooLarge):
        egress.session().get(https.url("/gzip-bomb"))  # requests' default Accept-Encoding asks for gzip


def test_a_caller_cannot_turn_verification_off(egress: Egress, start_server: Callable[..., LocalServer]) -> None:
    server = start_server("untrusted")
    with pytest.raises(TLSFailed):
        egress.session().get(server.url("/doc"), verify=False)


def test_proxies_from_the_environment_or_the_caller_are_not_used(
    egress: Egress, https: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy resolves names itself, past the address policy: requests goes direct or not at all."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # the discard port: nothing listens
    session = egress.session()
    assert session.get(https.url("/doc")).json()["client_name"] == "Test"
    assert session.get(https.url("/doc"), proxies={"https": "http://127.0.0.1:9"}).status_code == 200


def test_stream_true_does_not_open_an_unbounded_body(egress: Egress, https: LocalServer) -> None:
    """The adapter reads the body (capped) before it returns, whatever the caller asked for."""
    assert egress.session().get(https.url("/doc"), stream=True).json()["client_name"] == "Test"
    with pytest.raises(ResponseTooLarge):
        egress.session().get(https.url("/big-chunked"), stream=True)
