"""Signing out with a `next` ("Not you? Use another account" on the consent page) goes back only to a local path."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_csrf(app):
    app.config["WTF_CSRF_ENABLED"] = False
    yield
    app.config["WTF_CSRF_ENABLED"] = True


@pytest.mark.parametrize(("next_url", "location"), [
    ("/oauth/authorize?client_id=abc&ui_locales=de", "/oauth/authorize?client_id=abc&ui_locales=de"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    (None, "/"),
])
def test_sign_out_returns_to_a_local_next_only(client, no_csrf, next_url, location):
    response = client.post("/logout", data={"next": next_url} if next_url else {})
    assert response.status_code == 302 and response.headers["Location"] == location
