"""/admin/api/users over HTTP: create, read, page, search, update, roles, disable, enable, password, delete."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from app.extensions import db
from app.models import AuditEvent, LoginSession, RefreshToken
from tests.admin.conftest import ADMIN_EMAIL, ok, refused
from tests.flows import Browser, assert_oauth_error, introspect, refresh, signed_in, tokens_for

PASSWORD = "a long enough password"


def create(api, email: str, **fields) -> dict:
    return ok(api.post("/users", json={"email": email, **fields}), 201)


def test_create_and_get(api, site):
    response = api.post("/users", json={"email": "Ann@Example.com", "password": PASSWORD, "name": "Ann",
                                        "username": "ann", "roles": ["support"], "scope": "api:read"})
    created = ok(response, 201)
    assert response.headers["Location"] == f"/admin/api/users/{created['sub']}"
    assert response.headers["Cache-Control"] == "no-store"
    assert {k: created[k] for k in ("email", "name", "username", "roles", "scope", "is_active", "is_admin")} == {
        "email": "ann@example.com", "name": "Ann", "username": "ann", "roles": ["support"], "scope": "api:read",
        "is_active": True, "is_admin": False}
    assert "password" not in created and "password_hash" not in created
    assert ok(api.get(f"/users/{created['sub']}")) == created
    assert Browser(site).login("ann", PASSWORD).status_code == 302


def test_pagination_and_search(api):
    for n in range(5):
        create(api, f"page{n}@example.com", name=f"Page {n}")
    first = ok(api.get("/users", params={"limit": 2}))
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = [u["email"] for u in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = ok(api.get("/users", params={"limit": 2, "cursor": cursor}))
        seen += [u["email"] for u in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [ADMIN_EMAIL] + [f"page{n}@example.com" for n in range(5)]
    assert [u["email"] for u in ok(api.get("/users", params={"q": "PAGE 3"}))["items"]] == ["page3@example.com"]
    assert ok(api.get("/users", params={"q": "%"}))["items"] == []  # LIKE wildcards are literal


def test_service_accounts_are_not_users(api, make):
    robot = make.service_account("robot")
    assert robot.sub not in {u["sub"] for u in ok(api.get("/users"))["items"]}
    refused(api.get(f"/users/{robot.sub}"), 404, "not_found")


def test_update_profile_and_roles(api):
    user = create(api, "bo@example.com")
    updated = ok(api.patch(f"/users/{user['sub']}", json={"name": "Bo", "roles": ["admin", "billing"],
                                                          "email_verified": True}))
    assert (updated["name"], updated["roles"], updated["is_admin"], updated["email_verified"]) == (
        "Bo", ["admin", "billing"], True, True)
    changed = ok(api.patch(f"/users/{user['sub']}", json={"email": "bo2@example.com", "username": None}))
    assert (changed["email"], changed["email_verified"]) == ("bo2@example.com", False)


def test_disabling_ends_sessions_and_refresh_tokens_at_once(api, app, site, make):
    make.user("cy@example.com")
    rp = make.client()
    browser = signed_in(site, "cy@example.com")
    tokens = tokens_for(site, rp, "cy@example.com")
    sub = ok(api.get("/users", params={"q": "cy@"}))["items"][0]["sub"]

    disabled = ok(api.post(f"/users/{sub}/disable"))
    assert disabled["is_active"] is False
    assert "signed-in-as" not in browser.session.get(f"{site.base_url}/").text
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")
    assert introspect(site, rp, tokens["access_token"])["active"] is False
    assert Browser(site).login("cy@example.com").status_code == 401
    with app.app_context():
        assert db.session.query(LoginSession).filter(LoginSession.revoked_at.is_(None)).count() == 0
        assert db.session.query(RefreshToken).filter(RefreshToken.revoked_at.is_(None)).count() == 0

    assert ok(api.post(f"/users/{sub}/enable"))["is_active"] is True
    assert Browser(site).login("cy@example.com").status_code == 302


def test_set_password(api, site):
    user = create(api, "di@example.com", password=PASSWORD)
    browser = Browser(site)
    assert browser.login("di@example.com", PASSWORD).status_code == 302
    assert api.put(f"/users/{user['sub']}/password", json={"password": "another good password"}).status_code == 204
    assert "signed-in-as" not in browser.session.get(f"{site.base_url}/").text  # its session ended
    assert Browser(site).login("di@example.com", PASSWORD).status_code == 401
    assert Browser(site).login("di@example.com", "another good password").status_code == 302
    refused(api.put(f"/users/{user['sub']}/password", json={"password": "short"}), 400, "invalid_request", "password")


def test_delete(api, site, make):
    make.user("ed@example.com")
    rp = make.client()
    tokens = tokens_for(site, rp, "ed@example.com")
    sub = ok(api.get("/users", params={"q": "ed@"}))["items"][0]["sub"]
    assert api.delete(f"/users/{sub}").status_code == 204
    refused(api.get(f"/users/{sub}"), 404, "not_found")
    refused(api.delete(f"/users/{sub}"), 404, "not_found")
    assert_oauth_error(refresh(site, rp, tokens["refresh_token"]), "invalid_grant")
    assert introspect(site, rp, tokens["access_token"])["active"] is False


def test_an_admin_cannot_lock_themselves_out(api, admin):
    refused(api.post(f"/users/{admin.sub}/disable"), 409, "conflict")
    refused(api.delete(f"/users/{admin.sub}"), 409, "conflict")
    refused(api.patch(f"/users/{admin.sub}", json={"roles": ["support"]}), 409, "conflict")
    assert ok(api.patch(f"/users/{admin.sub}", json={"roles": ["admin", "support"]}))["roles"] == ["admin", "support"]


def test_changes_are_audited(api, app, admin):
    user = create(api, "fi@example.com")
    api.patch(f"/users/{user['sub']}", json={"roles": ["billing"]})
    api.post(f"/users/{user['sub']}/disable")
    with app.app_context():
        events = db.session.query(AuditEvent).filter_by(user_sub=user["sub"]).order_by(AuditEvent.id).all()
        assert [e.event for e in events] == ["user.created", "user.updated", "user.disabled"]
        assert all(e.details["actor"] == admin.sub for e in events)
        assert events[1].details["fields"] == ["roles"]


@pytest.mark.parametrize(("body", "field"), [
    ({"email": "not-an-email"}, "email"),
    ({"email": "x@example.com", "password": "short"}, "password"),
    ({"email": "x@example.com", "username": "bad name"}, "username"),
    ({"email": "x@example.com", "roles": ["Not A Role"]}, "roles"),
    ({"email": "x@example.com", "roles": "admin"}, "roles"),
    ({"email": "x@example.com", "scope": "openid"}, "scope"),
    ({"email": "x@example.com", "scope": "ostiary:admin"}, "scope"),
    ({"email": 5}, "email"),
    ({"name": "no email"}, "email"),
    ({"email": "x@example.com", "is_admin": True}, "is_admin"),
    ({"email": "x@example.com", "name": "x" * 201}, "name"),
])
def test_create_validation_names_the_field(api, body, field):
    refused(api.post("/users", json=body), 400, "invalid_request", field)


@pytest.mark.parametrize("body", [None, "[]", "not json", '"a string"'])
def test_the_body_must_be_a_json_object(api, body):
    response = api.post("/users", data=body, headers={"Content-Type": "application/json"})
    refused(response, 400, "invalid_request")


def test_conflicts(api):
    create(api, "gi@example.com", username="gi")
    refused(api.post("/users", json={"email": "GI@example.com"}), 409, "conflict", "email")
    other = create(api, "ho@example.com")
    refused(api.patch(f"/users/{other['sub']}", json={"email": "gi@example.com"}), 409, "conflict", "email")
    refused(api.patch(f"/users/{other['sub']}", json={"username": "gi"}), 409, "conflict", "username")


def test_a_username_differing_only_in_case_is_taken(api):
    create(api, "one@example.com", username="case1")
    refused(api.post("/users", json={"email": "two@example.com", "username": "CASE1"}), 409, "conflict", "username")
    other = ok(api.post("/users", json={"email": "two@example.com", "username": "case2"}), 201)
    refused(api.patch(f"/users/{other['sub']}", json={"username": "Case1"}), 409, "conflict", "username")
    # Changing the case of one's own username is no conflict.
    assert ok(api.patch(f"/users/{other['sub']}", json={"username": "CASE2"}))["username"] == "CASE2"


# The same account requested 20 times at once: one email, in two cases; or one username, in two cases.
RACES = {
    "email": lambda n: {"email": "race@example.com" if n % 2 else "RACE@example.com", "email_verified": True},
    "username": lambda n: {"email": f"race{n}@example.com", "username": "racer" if n % 2 else "RACER"},
}


@pytest.mark.parametrize("field", RACES)
def test_concurrent_creations_of_one_account_are_one_success_and_conflicts(api, app, admin, field):
    """The check before the insert cannot see a concurrent insert: the unique index decides, the others get 409."""
    parallel = 20
    with ThreadPoolExecutor(parallel) as pool:
        responses = list(pool.map(lambda n: api.post("/users", json=RACES[field](n)), range(parallel)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * (parallel - 1), [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            refused(response, 409, "conflict", field)
    with app.app_context():
        created = db.session.query(AuditEvent).filter(AuditEvent.event == "user.created",
                                                      AuditEvent.user_sub != admin.sub).all()
        assert len(created) == 1 and created[0].details["actor"] == admin.sub


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"cursor": "abc"}, "cursor"), ({"q": "x" * 321}, "q"),
])
def test_bad_query_parameters(api, params, field):
    refused(api.get("/users", params=params), 400, "invalid_request", field)


@pytest.mark.parametrize("path", ["/users/nope", "/users/00000000-0000-0000-0000-000000000000/disable",
                                  "/no-such-collection"])
def test_unknown_objects_are_json_404s(api, path):
    method = api.post if path.endswith("disable") else api.get
    refused(method(path), 404, "not_found")
