"""NUL and other control characters in identifiers: a 404 for a path, a 400 naming the field for a query, on every
database (PostgreSQL refuses NUL in text, so they must never reach it)."""

from __future__ import annotations

import re

import pytest

from app.cli import cli
from app.errors import NotFoundError, ValidationError
from app.services import audit
from app.services.clients import get_client
from app.services.resources import find_registered
from app.services.users import get_by_sub
from app.web.admin_api.openapi import paths
from tests.admin.conftest import refused

BAD = ["%00", "%01", "a%00b", "%1f"]
DOCUMENT = paths()
# Every operation on one object, with its path parameter replaced by {bad}.
BY_ID = [(re.sub(r"\{\w+\}", "{bad}", path.removeprefix("/admin/api")), method.upper())
         for path, item in DOCUMENT.items() if "{" in path for method in item if method != "parameters"]
# Every query parameter of every listing.
QUERIES = [(path.removeprefix("/admin/api"), parameter["name"])
           for path, item in DOCUMENT.items() for parameter in item.get("get", {}).get("parameters", [])
           if parameter["in"] == "query"]


@pytest.mark.fuzz  # every control character in every path of the admin API: 400 requests, each signed in
@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize(("path", "method"), BY_ID, ids=[f"{m} {p}" for p, m in BY_ID])
def test_a_control_character_in_a_path_is_not_found(api, path, method, bad):
    refused(api.call(method, path.format(bad=bad), json={}), 404, "not_found")


@pytest.mark.fuzz
@pytest.mark.parametrize("bad", ["%00", "%01"])
@pytest.mark.parametrize(("path", "name"), QUERIES, ids=[f"{p}?{n}" for p, n in QUERIES])
def test_a_control_character_in_a_query_is_refused_by_name(api, path, name, bad):
    refused(api.get(f"{path}?{name}={bad}"), 400, "invalid_request", name)


def test_a_control_character_after_a_real_identifier_is_still_not_found(api, admin, make):
    client = make.machine()
    refused(api.get(f"/users/{admin.sub}%00"), 404, "not_found")
    refused(api.get(f"/clients/{client.client_id}%01"), 404, "not_found")


@pytest.mark.parametrize("bad", ["\x00", "\x01", "abc\x00", "\x7f"])
def test_the_services_never_send_one_to_the_database(ctx, bad):
    assert get_by_sub(bad) is None
    assert get_client(bad) is None
    with pytest.raises(NotFoundError):
        find_registered(bad)
    with pytest.raises(ValidationError) as refused_filter:
        audit.event_page(user_sub=bad)
    assert refused_filter.value.field == "user_sub"


@pytest.mark.parametrize("args", [
    ["users", "show", "\x00"],
    ["clients", "show", "ab\x00"],
    ["resources", "show", "https://api.example.com/\x00"],
    ["api-keys", "list", "--owner", "\x01"],
    ["audit", "list", "--client", "\x00"],
])
def test_the_cli_answers_with_a_message(runner, args):
    result = runner.invoke(cli, args)
    assert result.exit_code == 1 and result.stderr.startswith("Error: "), (result.output, result.exception)
