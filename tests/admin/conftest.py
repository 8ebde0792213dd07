"""An administrator's access token for the admin API, obtained the way a script would: an API key at /oauth/token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask

from app.scopes import ADMIN_SCOPE
from tests.factories import Factories, RegisteredClient
from tests.flows import client_credentials
from tests.site import Site, as_site

ADMIN_EMAIL = "root@example.com"


def admin_token(site: Site | str, key: RegisteredClient) -> str:
    site = as_site(site)
    response = client_credentials(site, key, resource=f"{site.base_url}/admin/api", scope=ADMIN_SCOPE)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def admin_headers(app: Flask, make: Factories, name: str) -> dict[str, str]:
    """An administrator of this name with an API key, and the Authorization header of its admin API token, got
    through Flask's test client (for tests that stay in process)."""
    key = make.api_key(make.user(f"{name}-admin@example.com", roles=["admin"]), scope=ADMIN_SCOPE, name=name)
    token = app.test_client().post("/oauth/token", auth=(key.client_id, key.client_secret), data={
        "grant_type": "client_credentials", "scope": ADMIN_SCOPE, "resource": f"{app.config['ISSUER']}/admin/api",
    }).json["access_token"]
    return {"Authorization": f"Bearer {token}"}


@dataclass
class AdminApi:
    """requests against /admin/api with a Bearer token."""

    site: Site
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.site.request(method, f"/admin/api{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def refused(response: requests.Response, status: int, error: str, field: str | None = None) -> dict:
    """Every error is {"error", "error_description"} (+ "field" for validation errors), in JSON."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == error and body["error_description"], body
    assert set(body) <= {"error", "error_description", "field"}
    if field is not None:
        assert body.get("field") == field, body
    return body


@pytest.fixture
def admin(make):
    return make.user(ADMIN_EMAIL, roles=["admin"])


@pytest.fixture
def admin_key(make, admin) -> RegisteredClient:
    return make.api_key(admin, scope=ADMIN_SCOPE, name="ops")


@pytest.fixture
def api(site, admin_key) -> AdminApi:
    return AdminApi(site, admin_token(site, admin_key))
