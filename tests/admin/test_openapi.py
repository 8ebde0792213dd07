"""The published OpenAPI 3.1 document describes every operation, and the API keeps to it under schemathesis."""

from __future__ import annotations

import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from app.extensions import db
from app.web.admin_api.openapi import paths
from tests.admin.conftest import admin_token

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, ignored_auth, use_after_free,
          ensure_resource_availability]
# The operations, known without a server: the document's paths are the same for every issuer.
OPERATIONS = [(path, method) for path, item in paths().items() for method in item if method != "parameters"]
QUIET = list(HealthCheck)


@pytest.fixture
def admin_schema(live_server):
    return schemathesis.openapi.from_url(f"{live_server}/admin/api/openapi.json")


@pytest.fixture
def bearer(live_server, admin_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token(live_server, admin_key)}"}


@pytest.mark.fuzz  # 25 generated requests per operation and mode: some 2,000 in all
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_every_operation_keeps_to_the_document(admin_schema, bearer, path, method, mode):
    """Generated valid and invalid requests: never a 5xx, every response as documented."""
    operation = admin_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=QUIET)
    def call(case) -> None:
        case.call_and_validate(headers=bearer, checks=CHECKS)

    call()


@pytest.mark.fuzz
def test_stateful_sequences_keep_to_the_document(app, admin_schema, bearer, admin, admin_key):
    """Create, read, update, disable, rotate, revoke and delete in generated sequences, following the links."""

    class AdminMachine(admin_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self):
            # Hypothesis replays scenarios: each starts from the same database (the admin and its key only).
            keep_only_the_admin(app, admin.id)

        def get_call_kwargs(self, case):
            return {"headers": bearer}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    AdminMachine.run(settings=settings(max_examples=60, stateful_step_count=8, deadline=None, derandomize=True,
                                       suppress_health_check=QUIET))


def keep_only_the_admin(app, admin_id: int) -> None:
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            if table.name == "users":
                db.session.execute(table.delete().where(table.c.id != admin_id))
            elif table.name == "api_keys":
                db.session.execute(table.delete().where(table.c.owner_id != admin_id))
            elif table.name != "access_tokens":
                db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()


def test_the_document_describes_every_route(app, live_server):
    document = requests.get(f"{live_server}/admin/api/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    described = {(path, method.upper()) for path, item in document["paths"].items()
                 for method in item if method != "parameters"}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin/api/") and rule.endpoint != "admin_api.openapi":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert described == served
