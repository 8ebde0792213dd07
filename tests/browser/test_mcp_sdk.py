"""The official MCP Python SDK against a served Ostiary: an MCP server protected by Ostiary's tokens (verified
offline against the JWKS, `aud` = its resource URL, RFC 9728 metadata naming Ostiary), and the SDK's own OAuth
client, which discovers Ostiary from that metadata, identifies itself with a Client ID Metadata Document or by
Dynamic Client Registration, runs the authorization code flow with PKCE and `resource`, and calls a tool. The
person signs in and consents in headless Chromium."""

from __future__ import annotations

import queue
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import jwt
import pytest
import uvicorn
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from playwright.sync_api import expect

from tests.flows import query_of
from tests.ops.protected_api import AccessTokenVerifier

pytestmark = pytest.mark.browser

SCOPE = "mcp:tools"
CALLBACK_PATH = "/callback"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OstiaryTokenVerifier:
    """The SDK's TokenVerifier: an Ostiary RFC 9068 access token for this MCP server, checked offline with PyJWT."""

    def __init__(self, issuer: str, resource: str) -> None:
        self.resource = resource
        self.verifier = AccessTokenVerifier(issuer, resource)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = await anyio.to_thread.run_sync(self.verifier.verify, token)
        except (jwt.InvalidTokenError, jwt.PyJWKClientError):
            return None
        return AccessToken(token=token, client_id=claims["client_id"], scopes=claims.get("scope", "").split(),
                           expires_at=claims["exp"], resource=self.resource, subject=claims["sub"])


@pytest.fixture
def mcp_server(live_server: str, make) -> Iterator[str]:
    """An MCP server at http://127.0.0.1:<port>/mcp, registered in Ostiary as a resource with scope mcp:tools."""
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    make.resource(resource, scope=SCOPE, name="Orders MCP")
    server = MCPServer(
        "orders", token_verifier=OstiaryTokenVerifier(live_server, resource),
        auth=AuthSettings(issuer_url=live_server, resource_server_url=resource, required_scopes=[SCOPE],
                          validate_token_resource=True),
    )

    @server.tool()
    def whoami() -> str:
        """Who the access token speaks for."""
        from mcp.server.auth.middleware.auth_context import get_access_token

        token = get_access_token()
        return f"{token.subject} via {token.client_id}" if token else "nobody"

    web = uvicorn.Server(uvicorn.Config(server.streamable_http_app(), host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="on"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not web.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert web.started
    yield resource
    web.should_exit = True
    thread.join(timeout=10)


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class AgentRun:
    """The SDK's client in its own thread and event loop; the test thread plays the person in Chromium (Playwright's
    sync API belongs to the thread that started it)."""

    def __init__(self, mcp_url: str, redirect_uri: str, client_metadata_url: str | None) -> None:
        self.authorization_urls: queue.Queue[str] = queue.Queue()
        self.callbacks: queue.Queue[str] = queue.Queue()
        self.result: Any = None
        self.error: BaseException | None = None
        self.storage = MemoryStorage()
        metadata = OAuthClientMetadata(client_name="Desktop Agent", redirect_uris=[redirect_uri],
                                       grant_types=["authorization_code", "refresh_token"],
                                       response_types=["code"], token_endpoint_auth_method="none")
        self.provider = OAuthClientProvider(
            server_url=mcp_url, client_metadata=metadata, storage=self.storage,
            redirect_handler=self._redirect, callback_handler=self._callback, client_metadata_url=client_metadata_url)
        self.mcp_url = mcp_url
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    async def _redirect(self, url: str) -> None:
        self.authorization_urls.put(url)

    async def _callback(self) -> AuthorizationCodeResult:
        url = await anyio.to_thread.run_sync(lambda: self.callbacks.get(timeout=60))
        query = query_of(url)
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    def _run(self) -> None:
        try:
            self.result = anyio.run(self._call_tool)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread, which raises it
            self.error = exc
            self.authorization_urls.put("")

    async def _call_tool(self) -> Any:
        async with (
            httpx2.AsyncClient(auth=self.provider, timeout=30) as http,
            streamable_http_client(self.mcp_url, http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            return await session.call_tool("whoami", {})


def person_allows(page, sign_in, authorization_url: str, redirect_prefix: str, vouching_host: str | None) -> str:
    """Sign in and allow in Chromium; the URL the browser was sent back to (the loopback listener is not needed:
    the request is caught on its way)."""
    caught: list[str] = []
    page.route(re.compile("^" + re.escape(redirect_prefix)),
               lambda route: (caught.append(route.request.url), route.fulfill(status=200, body="done")))
    page.goto(authorization_url)
    sign_in(page, "alice@example.com")
    expect(page.get_by_role("heading", level=1)).to_have_text("Desktop Agent wants to access your account")
    expect(page.locator("#resource")).to_contain_text("Orders MCP")
    if vouching_host:
        expect(page.locator("#client-host")).to_contain_text(vouching_host)
    else:
        expect(page.locator("#client-unverified")).to_be_visible()
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(re.compile("^" + re.escape(redirect_prefix)))
    assert caught, "the browser never reached the client's redirect URI"
    return caught[0]


def run_agent(page, sign_in, mcp_url: str, client_metadata_url: str | None, vouching_host: str | None) -> AgentRun:
    callback_port = free_port()
    redirect_uri = f"http://127.0.0.1:{callback_port}{CALLBACK_PATH}"
    agent = AgentRun(mcp_url, redirect_uri, client_metadata_url)
    authorization_url = agent.authorization_urls.get(timeout=60)
    if agent.error is not None:
        raise agent.error
    assert "resource=" in authorization_url and "code_challenge_method=S256" in authorization_url
    agent.callbacks.put(person_allows(page, sign_in, authorization_url, redirect_uri, vouching_host))
    agent.thread.join(timeout=60)
    if agent.error is not None:
        raise agent.error
    return agent


def assert_called(agent: AgentRun, make_user_sub: str, client_id: str) -> None:
    assert agent.result is not None and not agent.result.is_error, agent.result
    assert agent.result.content[0].text == f"{make_user_sub} via {client_id}"


def test_mcp_client_with_a_client_id_metadata_document(page, sign_in, make, live_server, mcp_server, documents):
    alice = make.user("alice@example.com")
    client_id = documents("/desktop-agent.json", lambda url: {
        "client_id": url, "client_name": "Desktop Agent", "redirect_uris": [f"http://127.0.0.1{CALLBACK_PATH}"],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none"})
    agent = run_agent(page, sign_in, mcp_server, client_id, vouching_host=client_id.split("/")[2])
    assert agent.storage.client_info is not None and agent.storage.client_info.client_id == client_id
    assert_called(agent, alice.sub, client_id)


def test_mcp_client_with_dynamic_client_registration(page, sign_in, make, app, live_server, mcp_server,
                                                     monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRATION", "open")
    alice = make.user("alice@example.com")
    agent = run_agent(page, sign_in, mcp_server, None, vouching_host=None)
    client_info = agent.storage.client_info
    assert client_info is not None and not client_info.client_id.startswith("https://")
    assert_called(agent, alice.sub, client_info.client_id)
