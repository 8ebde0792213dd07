"""Issue 15 point 3: what the consent page says. A resource's name rather than a raw scope string; "Not you?"
leads back to the same authorization request for another account; a very long client name is clamped on
screen but whole for assistive technology; and one authorization request speaks one language (ui_locales)."""

from __future__ import annotations

import re

import jwt
import pytest
from playwright.sync_api import expect

from app.services.clients import create_client
from tests.factories import RegisteredClient
from tests.flows import exchange_code, query_of


def test_api_scopes_are_shown_under_the_name_of_their_resource(page, make, rp_client, sign_in, authorization_request):
    make.user("pat@example.com")
    make.resource("https://billing.example.com", scope="billing:read billing:write", name="Billing API")
    client = make.client(redirect_uris=[rp_client.redirect_uri], scope="openid billing:read billing:write weather")
    page.goto(authorization_request(client, scope="openid billing:read billing:write weather").url)
    sign_in(page, "pat@example.com")

    expect(page.locator("#scopes li")).to_have_text([
        "Sign you in and know who you are",
        "Access “weather” on your behalf",  # no registered resource defines it
        "Use Billing API on your behalf (billing:read, billing:write)",
    ])
    expect(page.locator("#scopes li").last).to_have_attribute("data-scope", "billing:read billing:write")


def test_not_you_signs_out_and_returns_to_the_same_request_for_another_account(
    page, context, make, rp_client, live_server, sign_in, authorization_request, browser_log
):
    make.user("pat@example.com")
    sam = make.user("sam@example.com")
    request = authorization_request(rp_client)
    page.goto(request.url)
    sign_in(page, "pat@example.com")
    expect(page.locator("main")).to_contain_text("Signed in as pat@example.com")

    page.get_by_role("button", name="Not you? Use another account").click()
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)oauth(/|%2F)authorize"))
    expect(page.locator("#client-name")).to_have_text("Test App")
    assert not [c for c in context.cookies() if c["name"].endswith("ostiary_session")]
    sign_in(page, "sam@example.com")
    expect(page.locator("main")).to_contain_text("Signed in as sam@example.com")

    with page.expect_request(lambda sent: sent.url.startswith(rp_client.redirect_uri + "?")) as callback:
        page.get_by_role("button", name="Allow").click()
    query = query_of(callback.value.url)
    assert query["state"] == request.params["state"]
    tokens = exchange_code(live_server, rp_client, query["code"], request.verifier).json()
    assert jwt.decode(tokens["id_token"], options={"verify_signature": False})["sub"] == sam.sub
    assert browser_log.errors == []


@pytest.mark.parametrize("width", [1024, 360])
def test_a_very_long_client_name_is_clamped_on_screen_and_whole_for_screen_readers(
    width, page, app, make, relying_party, sign_in, authorization_request, screenshot
):
    name = "Northwind " + " ".join(["Consolidated Holdings International"] * 5) + " Portal"
    assert len(name) <= 200
    with app.app_context():
        registration = create_client(name, redirect_uris=[f"{relying_party}/callback"])
        client = RegisteredClient(registration.client.client_id, registration.client_secret, f"{relying_party}/callback")
    make.user("pat@example.com")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(authorization_request(client).url)
    sign_in(page, "pat@example.com")

    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_accessible_name(f"{name} wants to access your account")
    line_height = float(heading.evaluate("h => getComputedStyle(h).lineHeight").removesuffix("px"))
    shown = page.locator("#client-name").bounding_box()
    assert shown is not None and shown["height"] <= 3 * line_height + 1  # three lines at most
    assert page.locator("#client-name").evaluate("el => el.scrollHeight > el.clientHeight")  # the rest is clipped
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"consent-clamped-{width}")


def test_ui_locales_carries_one_language_through_sign_in_consent_and_switching_account(
    page, make, rp_client, sign_in, authorization_request, screenshot
):
    """The browser asks for English (en-GB); the relying party asks for German (OpenID Connect Core §3.1.2.1)."""
    make.user("pat@example.com")
    make.user("sam@example.com")
    page.goto(authorization_request(rp_client, ui_locales="de-CH en").url)
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Anmelden")
    german_sign_in(page, "pat@example.com")

    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Test App möchte auf Ihr Konto zugreifen")
    expect(page.locator("#scopes li").first).to_have_text("Sie anmelden und wissen, wer Sie sind")
    screenshot(page, "consent-de")
    page.get_by_role("button", name="Nicht Sie? Anderes Konto verwenden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Anmelden")
    german_sign_in(page, "sam@example.com")
    expect(page.get_by_role("button", name="Zulassen")).to_be_visible()
    expect(page.get_by_role("button", name="Ablehnen")).to_be_visible()


def german_sign_in(page, login: str) -> None:
    page.get_by_label("E-Mail-Adresse oder Benutzername").fill(login)
    page.get_by_label("Passwort").fill("correct horse battery staple")
    with page.expect_event("load"):
        page.get_by_role("button", name="Anmelden", exact=True).click()
