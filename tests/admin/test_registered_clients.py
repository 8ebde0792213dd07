"""Clients that registered themselves (RFC 7591) are the operator's to see, disable and delete in the admin API."""

from __future__ import annotations

import requests


def test_a_registered_client_in_the_admin_api(api, app, live_server, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRATION", "open")
    registered = requests.post(f"{live_server}/oauth/register", json={
        "client_name": "Agent", "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none",
        "client_uri": "https://agent.example/"}).json()
    client_id = registered["client_id"]
    shown = api.get(f"/clients/{client_id}").json()
    assert (shown["registered_via"], shown["client_uri"], shown["public"]) == ("open", "https://agent.example/", True)
    assert api.post(f"/clients/{client_id}/disable").json()["is_active"] is False
    assert api.delete(f"/clients/{client_id}").status_code == 204
    auth = {"Authorization": f"Bearer {registered['registration_access_token']}"}
    assert requests.get(registered["registration_client_uri"], headers=auth).status_code == 401
