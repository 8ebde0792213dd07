"""GET /admin/api/audit-events and `ostiary audit list`: the audit trail, filtered, newest first, page by page."""

from __future__ import annotations

import json
import re

import pytest

from app.cli import cli
from app.extensions import db
from app.models import AuditEvent, User
from tests.admin.conftest import ADMIN_EMAIL, ok, refused

T0 = 1_700_000_000
ALICE, BOB = "00000000-0000-4000-8000-00000000a11c", "00000000-0000-4000-8000-000000000b0b"


@pytest.fixture
def trail(app) -> list[int]:
    """Five events an hour apart, oldest first: their ids."""
    rows = [
        AuditEvent(at=T0, event="sign_in", outcome="success", user_sub=ALICE, client_id="web", ip="192.0.2.1"),
        AuditEvent(at=T0 + 3600, event="sign_in", outcome="failure", user_sub=BOB, ip="192.0.2.2"),
        AuditEvent(at=T0 + 7200, event="consent.granted", outcome="success", user_sub=ALICE, client_id="web",
                   details={"scope": "openid"}),
        AuditEvent(at=T0 + 10800, event="token.reuse_detected", outcome="failure", user_sub=ALICE, client_id="cli"),
        AuditEvent(at=T0 + 14400, event="sign_in", outcome="success", user_sub=BOB, client_id="cli"),
    ]
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def ids(api, **params) -> list[int]:
    return [event["id"] for event in ok(api.get("/audit-events", params={"until": T0 + 86400, **params}))["items"]]


def test_events_come_newest_first_with_every_field(api, trail):
    page = ok(api.get("/audit-events", params={"until": T0 + 86400}))
    assert [e["id"] for e in page["items"]] == trail[::-1] and page["next_cursor"] is None
    assert page["items"][2] == {"id": trail[2], "at": T0 + 7200, "event": "consent.granted", "outcome": "success",
                                "user_sub": ALICE, "client_id": "web", "ip": None, "request_id": None,
                                "details": {"scope": "openid"}}


@pytest.mark.parametrize(("params", "expected"), [
    ({"event": "sign_in"}, [4, 1, 0]),
    ({"outcome": "failure"}, [3, 1]),
    ({"user_sub": ALICE}, [3, 2, 0]),
    ({"client_id": "cli"}, [4, 3]),
    ({"event": "sign_in", "user_sub": BOB, "outcome": "success"}, [4]),
    ({"since": T0 + 3600}, [4, 3, 2, 1]),  # since is inclusive
    ({"since": T0 + 3601, "until": T0 + 10800}, [2]),  # until is exclusive
    ({"event": "sign_in", "since": T0 + 14401}, []),
    ({"user_sub": "nobody"}, []),
])
def test_filters_combine(api, trail, params, expected):
    assert ids(api, **params) == [trail[i] for i in expected]


def test_pages_follow_the_cursor_to_the_end(api, trail):
    seen, cursor = [], None
    for expected_size in (2, 2, 1):
        page = ok(api.get("/audit-events", params={"until": T0 + 86400, "limit": 2,
                                                   **({"cursor": cursor} if cursor else {})}))
        assert len(page["items"]) == expected_size
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
    assert cursor is None and seen == trail[::-1]
    # A filter keeps applying on later pages.
    first = ok(api.get("/audit-events", params={"event": "sign_in", "until": T0 + 86400, "limit": 1}))
    rest = ok(api.get("/audit-events", params={"event": "sign_in", "until": T0 + 86400,
                                               "cursor": first["next_cursor"]}))
    assert [e["id"] for e in first["items"] + rest["items"]] == [trail[4], trail[1], trail[0]]


def test_admin_api_changes_are_in_the_trail(api, admin):
    created = ok(api.post("/clients", json={"name": "Audited", "grant_types": ["client_credentials"]}), 201)
    events = ok(api.get("/audit-events", params={"client_id": created["client_id"]}))["items"]
    assert [(e["event"], e["details"]["actor"]) for e in events] == [("client.created", admin.sub)]
    assert events[0]["ip"] == "127.0.0.1" and events[0]["request_id"]


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"cursor": "abc"}, "cursor"),
    ({"outcome": "maybe"}, "outcome"),
    ({"since": "-1"}, "since"),
    ({"since": "yesterday"}, "since"),
    ({"until": "1e9"}, "until"),
    ({"until": "253402300800"}, "until"),  # after the year 9999
    ({"event": "e" * 65}, "event"),
    ({"user_sub": "u" * 37}, "user_sub"),
    ({"client_id": "c" * 65}, "client_id"),
    ({"event": "sign_in\x00"}, "event"),
    ({"client_id": "web\x01"}, "client_id"),
])
def test_bad_parameters_are_refused_naming_the_field(api, params, field):
    refused(api.get("/audit-events", params=params), 400, "invalid_request", field)


def test_only_administrators_read_the_trail(site, api, make, trail):
    assert site.get("/admin/api/audit-events", timeout=30).status_code == 401
    make.update(User, {"email": ADMIN_EMAIL}, roles=[])  # the token's subject is no longer an administrator
    body = refused(api.get("/audit-events"), 403, "insufficient_scope")
    assert "administrator" in body["error_description"]


def test_the_document_describes_the_operation(api):
    operation = ok(api.get("/openapi.json"))["paths"]["/admin/api/audit-events"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"limit", "cursor", "event", "outcome", "user_sub",
                                                           "client_id", "since", "until"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AuditEventPage"}


# --- ostiary audit list -----------------------------------------------------------------------------------------

def audit_list(runner, *args: str):
    result = runner.invoke(cli, ["audit", "list", "--until", str(T0 + 86400), *args])
    assert result.exit_code == 0, (result.output, result.stderr)
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_the_cli_lists_the_same_events(runner, api, trail):
    assert audit_list(runner, "--json") == ok(api.get("/audit-events", params={"until": T0 + 86400}))["items"]
    assert [e["id"] for e in audit_list(runner, "--event", "sign_in", "--user", BOB, "--json")] == [trail[4], trail[1]]
    assert [e["id"] for e in audit_list(runner, "--client", "web", "--since", str(T0 + 1), "--json")] == [trail[2]]
    assert [e["id"] for e in audit_list(runner, "--outcome", "failure", "--limit", "1", "--json")] == [trail[3]]


def test_the_cli_limit_spans_pages(runner, app):
    with app.app_context():
        db.session.add_all(AuditEvent(at=T0, event="bulk") for _ in range(130))
        db.session.commit()
    assert len(audit_list(runner, "--event", "bulk", "--limit", "120", "--json")) == 120
    assert len(audit_list(runner, "--event", "bulk", "--limit", "500", "--json")) == 130


def test_the_cli_prints_one_line_per_event(runner, trail):
    header, *lines = audit_list(runner, "--user", ALICE).splitlines()
    assert header.split() == ["AT", "EVENT", "OUTCOME", "USER", "CLIENT", "IP", "DETAILS"]
    assert re.fullmatch(r"2023-11-15T01:13:20Z \(\d+ days ago\) +token\.reuse_detected +failure +" + ALICE
                        + r" +cli +- +-", lines[0]), lines[0]
    assert re.search(r" consent\.granted +success +" + ALICE + r" +web +- +scope=openid$", lines[1]), lines[1]
    assert audit_list(runner, "--event", "nothing.happened") == "No audit events.\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--event", "sign_in\x00"], "event must be at most 64 printable characters"),
    (["--user", "u" * 37], "user_sub must be at most 36 printable characters"),
])
def test_the_cli_refuses_bad_filters(runner, args, message):
    result = runner.invoke(cli, ["audit", "list", *args])
    assert result.exit_code == 1 and message in result.stderr
