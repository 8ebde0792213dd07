"""A person holds at most OSTIARY_LIVE_API_KEYS_PER_PERSON live API keys: refused alike on the account page, in the
CLI and in the admin API, and under concurrency; revoked and expired keys do not count, service accounts are not capped."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.cli import cli
from app.errors import ConflictError
from app.extensions import db
from app.models import ApiKey, User
from app.services.api_keys import create_api_key
from tests.admin.conftest import ok, refused
from tests.flows import csrf_token, signed_in

EMAIL = "collector@example.com"
FULL = "at most {cap} live API keys per person: revoke one before creating another"


@pytest.fixture
def cap(app) -> int:
    return app.config["LIVE_API_KEYS_PER_PERSON"]


@pytest.fixture
def collector(make, cap) -> User:
    """A person one key short of the cap, with a revoked and an expired key that do not count."""
    person = make.user(EMAIL, scope="api:read")
    for number in range(cap - 1):
        make.api_key(person, scope="api:read", name=f"key {number}")
    make.update(ApiKey, {"name": "key 0"}, revoked_at=int(time.time()))
    make.update(ApiKey, {"name": "key 1"}, expires_at=int(time.time()) - 1)
    for number in range(2):
        make.api_key(person, scope="api:read", name=f"replacement {number}")
    return person


def test_the_account_page_refuses_a_key_beyond_the_cap(live_server, collector, cap):
    browser = signed_in(live_server, EMAIL)

    def create(name: str):
        token = csrf_token(browser.session.get(f"{live_server}/account/api-keys").text)
        return browser.session.post(f"{live_server}/account/api-keys",
                                    data={"name": name, "expires_in_days": "0", "csrf_token": token})

    assert create("the last one").status_code == 200
    beyond = create("one too many")
    assert beyond.status_code == 400 and FULL.format(cap=cap) in beyond.text
    assert 'id="new-key"' not in beyond.text


def test_the_admin_api_refuses_a_key_beyond_the_cap(api, collector, cap):
    ok(api.post("/api-keys", json={"owner": collector.sub, "name": "the last one"}), 201)
    body = refused(api.post("/api-keys", json={"owner": collector.sub, "name": "one too many"}), 409, "conflict",
                   "owner")
    assert body["error_description"] == FULL.format(cap=cap)


def test_the_cli_refuses_a_key_beyond_the_cap(runner, collector, cap):
    args = ["api-keys", "create", "--owner", EMAIL, "--name", "x"]
    assert runner.invoke(cli, args).exit_code == 0
    beyond = runner.invoke(cli, args)
    assert beyond.exit_code == 1 and FULL.format(cap=cap) in beyond.stderr


def test_concurrent_creations_cannot_exceed_the_cap(api, app, collector, cap):
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(
            lambda n: api.post("/api-keys", json={"owner": collector.sub, "name": f"racing {n}"}), range(10)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9
    with app.app_context():
        live = db.session.query(ApiKey).filter(ApiKey.owner_id == collector.id, ApiKey.revoked_at.is_(None),
                                               ApiKey.expires_at.is_(None)).count()
        assert live == cap


def test_service_accounts_are_not_capped(ctx, make, cap):
    robot = make.service_account("robot", scope="api:read")
    for number in range(cap + 1):
        make.api_key(robot, scope="api:read", name=f"robot {number}")


def test_the_service_refuses_with_a_conflict(ctx, collector, cap):
    owner = db.session.get(User, collector.id)
    create_api_key(owner, "the last one", "", actor=None)
    with pytest.raises(ConflictError, match=FULL.format(cap=cap)):
        create_api_key(owner, "one too many", "", actor=None)
