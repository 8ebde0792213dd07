"""Client ID Metadata Documents: a client_id that is an https URL, fetched through app.egress from a real local
HTTPS server (the test CA trusted, loopback let through), and refused by the production address policy."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from app.egress import AddressPolicy, Egress
from app.services.metadata_documents import CACHE
from tests.factories import RegisteredClient
from tests.flows import authorization_params, exchange_code, pkce_pair, query_of, signed_in
from tests.site import Site

REDIRECT = "http://127.0.0.1/callback"


def client_document(url: str, **extra: Any) -> dict[str, Any]:
    return {"client_id": url, "client_name": "Agent", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none", "client_uri": "https://agent.example/", **extra}


def authorize(site: Site, client_id: str, redirect_uri: str = REDIRECT, **extra: str) -> requests.Response:
    _, challenge = pkce_pair()
    browser = signed_in(site, "alice@example.com")
    return browser.authorize(authorization_params(RegisteredClient(client_id, None, redirect_uri), challenge, **extra))


def test_advertised_only_when_on(site, app, monkeypatch):
    assert "client_id_metadata_document_supported" not in site.get(
        "/.well-known/oauth-authorization-server").json()
    monkeypatch.setitem(app.config, "CIMD", "open")
    assert site.get("/.well-known/oauth-authorization-server").json()[
        "client_id_metadata_document_supported"] is True


def test_code_flow_with_a_metadata_document(site, make, documents):
    """Consent names the host that vouches for the client; the code is redeemed at the token endpoint with PKCE."""
    make.user("alice@example.com")
    client_id = documents("/agent.json", client_document)
    verifier, challenge = pkce_pair()
    browser = signed_in(site, "alice@example.com")
    registered = RegisteredClient(client_id, None, "http://127.0.0.1:40123/callback")  # any loopback port
    params = authorization_params(registered, challenge, scope="openid")
    page = browser.authorize(params, decision=None)
    assert page.status_code == 200, page.text[:500]
    assert f"<strong>{client_id.split('/')[2]}</strong>" in page.text
    assert '<a href="https://agent.example/" rel="noopener noreferrer nofollow">' in page.text
    answer = browser.authorize(params)
    assert answer.status_code == 302, answer.text[:500]
    tokens = exchange_code(site, registered, query_of(answer.headers["Location"])["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["scope"] == "openid"


BAD_DOCUMENTS = [
    ("mismatch", lambda url: client_document("https://other.example/agent.json"), {}),
    ("secret", lambda url: client_document(url, token_endpoint_auth_method="client_secret_basic"), {}),
    ("holds-secret", lambda url: client_document(url, client_secret="s3cret"), {}),
    ("javascript", lambda url: client_document(url, redirect_uris=["javascript:alert(1)"]), {}),
    ("data", lambda url: client_document(url, redirect_uris=["data:text/html,x"]), {}),
    ("fragment", lambda url: client_document(url, redirect_uris=["https://a.example/cb#x"]), {}),
    ("admin", lambda url: client_document(url, scope="openid ostiary:admin"), {}),
    ("not-json", b"<html>hello</html>", {"content_type": "application/json"}),
    ("text", lambda url: json.dumps(client_document(url)).encode(), {"content_type": "text/plain"}),
    ("huge", lambda url: client_document(url, client_name="A" * 6000), {}),
    ("array", [1, 2], {}),
]


@pytest.mark.parametrize(("name", "document", "options"), BAD_DOCUMENTS, ids=[row[0] for row in BAD_DOCUMENTS])
def test_unusable_documents_are_invalid_client(site, make, documents, name, document, options):
    make.user("alice@example.com")
    client_id = documents(f"/bad-{name}.json", document, **options)
    page = authorize(site, client_id)
    assert page.status_code == 400, page.text[:300]
    assert "invalid_client" in page.text
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT, "code_verifier": "v" * 43,
            "client_id": client_id}
    token = site.post("/oauth/token", data=data)
    assert (token.status_code, token.json()["error"]) == (401, "invalid_client")


def test_redirect_uri_must_be_in_the_document(site, make, documents):
    make.user("alice@example.com")
    client_id = documents("/agent3.json", client_document)
    assert authorize(site, client_id, "https://evil.example/cb").status_code == 400


def test_unreachable_document_is_answered_not_hung(site, make, documents):
    make.user("alice@example.com")
    client_id = documents("/missing.json", client_document).replace("/missing.json", "/nothing-here.json")
    page = authorize(site, client_id)
    assert page.status_code == 400 and "invalid_client" in page.text


def test_allowlist(site, app, make, documents, monkeypatch):
    make.user("alice@example.com")
    client_id = documents("/agent4.json", client_document)
    monkeypatch.setitem(app.config, "CIMD", "allowlist")
    monkeypatch.setitem(app.config, "CIMD_ALLOWED_HOSTS", ["claude.ai"])
    assert authorize(site, client_id).status_code == 400
    monkeypatch.setitem(app.config, "CIMD_ALLOWED_HOSTS", [client_id.split("/")[2]])
    assert authorize(site, client_id).status_code == 302


@pytest.mark.parametrize("client_id", [
    "https://127.0.0.1/agent.json", "https://localhost/agent.json", "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/agent.json", "https://[::1]/agent.json", "https://[fd00:ec2::254]/agent.json",
    "https://192.168.1.1/agent.json",
])
def test_production_address_policy_refuses_internal_hosts(site, app, make, monkeypatch, client_id):
    """The SSRF boundary with the real resolver rules: nothing extra allowed, refused before any connection."""
    make.user("alice@example.com")
    monkeypatch.setitem(app.config, "CIMD", "open")
    monkeypatch.setitem(app.extensions, "ostiary.egress", Egress(AddressPolicy()))
    app.extensions.pop(CACHE, None)
    page = authorize(site, client_id)
    assert page.status_code == 400 and "invalid_client" in page.text
    assert "not a public internet address" in page.text


@pytest.mark.parametrize("client_id", [
    "http://agent.example/agent.json", "https://agent.example", "https://agent.example/",
    "https://agent.example/a/../b.json", "https://user@agent.example/a.json", "https://agent.example/a.json#f",
])
def test_client_ids_that_are_no_document_url_are_unknown_clients(site, app, make, monkeypatch, client_id):
    make.user("alice@example.com")
    monkeypatch.setitem(app.config, "CIMD", "open")
    page = authorize(site, client_id)
    assert page.status_code == 400 and "invalid_client" in page.text


def test_a_document_behind_a_redirect_is_refused(site, make, documents):
    """No redirect is followed, so none can lead the fetch to an address the policy would refuse."""
    make.user("alice@example.com")
    target = documents("/target.json", client_document)
    page = authorize(site, target.replace("/target.json", "/redirect/302?to=/target.json"))
    assert page.status_code == 400 and "invalid_client" in page.text
    assert "redirects are not followed" in page.text


def test_a_look_alike_name_is_shown_with_the_host_that_vouches_for_it(site, make, documents):
    make.user("alice@example.com")
    client_id = documents("/look-alike.json", lambda url: client_document(url, client_name="\u0421laude"))
    _, challenge = pkce_pair()
    browser = signed_in(site, "alice@example.com")
    params = authorization_params(RegisteredClient(client_id, None, REDIRECT), challenge, scope="openid")
    page = browser.authorize(params, decision=None)
    assert "\u0421laude" in page.text
    assert f'id="client-host">This app is described by <strong>{client_id.split("/")[2]}</strong>' in page.text
