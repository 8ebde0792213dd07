"""The client cache: bounded, never remembers a miss, forgets on every change (here and, through the database, in
every other process), and answers nothing from memory while it could have missed one."""

from __future__ import annotations

import sqlite3
import time

import psycopg
import pytest
from sqlalchemy import event

from app.extensions import db
from app.models import Client
from app.services import client_cache_invalidation as invalidation
from app.services.client_cache import RegistrationCache
from app.services.clients import disable_client, get_active_client, require, rotate_secret
from app.services.users import get_by_sub
from tests.flows import client_credentials


def token_error(response, error: str, status: int) -> None:
    assert (response.status_code, response.json()["error"]) == (status, error), response.text


@pytest.mark.parametrize(("sql", "changes"), [
    ("UPDATE clients SET is_active=? WHERE clients.id = ?", True),
    ("UPDATE clients SET client_secret_hash=%(client_secret_hash)s WHERE clients.id = %(clients_id)s", True),
    ("DELETE FROM clients WHERE clients.id = ?", True),
    ("DELETE FROM api_keys", True),
    ("UPDATE api_keys SET revoked_at=? WHERE api_keys.id = ? AND api_keys.revoked_at IS NULL", True),
    ("UPDATE api_keys SET scope=? WHERE api_keys.id = ?", True),
    ("UPDATE api_keys SET last_used_at=? WHERE api_keys.id = ? AND api_keys.last_used_at <= ?", False),
    ("UPDATE users SET is_active=%(is_active)s, updated_at=%(updated_at)s WHERE users.id = %(users_id)s", True),
    ("UPDATE users SET roles=? WHERE users.id = ?", True),
    ("UPDATE users SET updated_at=users.updated_at WHERE users.id = ?", False),
    ("UPDATE users SET password_hash=?, updated_at=? WHERE users.id = ?", False),
    ("DELETE FROM users WHERE users.id = ?", True),
    ("INSERT INTO clients (client_id) VALUES (?)", False),
    ("UPDATE refresh_tokens SET used_at=? WHERE refresh_tokens.id = ?", False),
    ("SELECT clients.id FROM clients", False),
    # The revocation ledger: a new access token is born unrevoked; revoking one updates or upserts its row.
    ("INSERT INTO access_tokens (jti, family_id, client_id, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?)", False),
    (("INSERT INTO access_tokens (jti, client_id, expires_at, revoked_at) VALUES (?, ?, ?, ?) ON CONFLICT (jti) "
     "DO UPDATE SET revoked_at = coalesce(access_tokens.revoked_at, excluded.revoked_at)"), True),
    (("UPDATE access_tokens SET revoked_at=%(revoked_at)s::INTEGER WHERE access_tokens.family_id IN "
     "(%(family_id_1_1)s::VARCHAR) AND access_tokens.revoked_at IS NULL"), True),
    ("DELETE FROM access_tokens WHERE access_tokens.expires_at <= ?", True),
    ("INSERT INTO users (email) VALUES (?) ON CONFLICT (email) DO NOTHING", False),
])
def test_which_statements_clear_the_cache(sql, changes):
    assert invalidation.changes_registrations(sql) is changes


class Always:
    def fresh(self) -> bool:
        return True


def trusted_cache(max_entries: int) -> RegistrationCache:
    cache = RegistrationCache(max_entries)
    cache.freshness = Always()
    cache.trust()
    return cache


def test_bounded_and_a_miss_is_never_remembered():
    cache, loads = trusted_cache(3), []

    def load(client_id: str) -> Client | None:
        loads.append(client_id)
        return Client(client_id=client_id, name=client_id) if client_id.startswith("good") else None

    for n in range(5):
        assert cache.get("client", f"good{n}", load).client_id == f"good{n}"
    assert len(cache) == 3  # the least recently used went first
    for n in range(1000):
        assert cache.get("client", f"unknown{n}", load) is None
    assert len(cache) == 3  # unknown ids neither fill the cache nor evict what it holds
    loads.clear()
    assert [cache.get("client", f"good{n}", load).client_id for n in (2, 3, 4)] == ["good2", "good3", "good4"]
    assert loads == []


def test_each_kind_is_bounded_on_its_own():
    """A busy revocation ledger (every introspected jti) never pushes a client out."""
    cache = trusted_cache(3)
    cache.get("client", "good", lambda client_id: Client(client_id=client_id, name=client_id))
    for n in range(100):
        assert cache.get("unrevoked_jti", f"jti{n}", lambda jti: True) is True
    assert len(cache) == 4
    assert cache.get("client", "good", lambda client_id: None).client_id == "good"


def test_a_copy_loaded_across_a_clear_is_not_kept():
    cache = trusted_cache(10)

    def load_while_changing(client_id: str) -> Client:
        cache.clear()  # another thread's write lands while this one reads
        return Client(client_id=client_id, name="old")

    assert cache.get("client", "x", load_while_changing).name == "old"
    assert len(cache) == 0


def test_untrusted_it_answers_nothing_from_memory():
    cache, loads = trusted_cache(10), []
    load = lambda client_id: loads.append(client_id) or Client(client_id=client_id, name="n")
    cache.get("client", "x", load)
    cache.distrust()
    cache.get("client", "x", load)
    cache.get("client", "x", load)
    assert loads == ["x", "x", "x"] and len(cache) == 0


def test_it_holds_digests_never_secrets(app, make, ctx):
    machine = make.machine()
    cached = get_active_client(machine.client_id)
    assert cached.check_client_secret(machine.client_secret)
    assert machine.client_secret not in {str(value) for value in vars(cached).values()}


def test_a_client_is_read_once_then_from_memory(app, make, ctx):
    machine = make.machine()
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])
    db.session.remove()
    # One pooled connection: on SQLite each connection's first look empties the cache (PRAGMA data_version is per
    # connection), and earlier tests' threads may have left several in the pool.
    db.engine.dispose()
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        for _ in range(5):
            assert get_active_client(machine.client_id) is not None
            db.session.remove()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len([s for s in statements if "FROM clients" in s]) == 1, statements


@pytest.mark.parametrize("change", ["disable", "rotate", "owner"])
def test_a_change_in_this_process_is_seen_by_the_next_request(live_server, app, make, change):
    machine = make.machine()
    account = make.service_account("cache-worker", scope="api:read")
    key = make.api_key(account, scope="api:read")
    assert client_credentials(live_server, machine).status_code == 200
    assert client_credentials(live_server, key).status_code == 200
    with app.app_context():
        if change == "disable":
            disable_client(require(machine.client_id), actor=None)
        elif change == "rotate":
            rotate_secret(require(machine.client_id), actor=None)
        else:
            from app.services.users import disable_user
            disable_user(get_by_sub(account.sub), actor=None)
    if change != "owner":
        token_error(client_credentials(live_server, machine), "invalid_client", 401)
    else:
        token_error(client_credentials(live_server, key), "invalid_client", 401)


def test_a_flood_of_wrong_secrets_and_unknown_ids_leaves_the_cache_as_it_was(live_server, app, make):
    machine = make.machine()
    assert client_credentials(live_server, machine).status_code == 200
    cache = app.extensions["ostiary.client_cache"]
    before = len(cache)
    for n in range(30):
        wrong = type(machine)(machine.client_id, f"wrong{n}", "")
        unknown = type(machine)(f"unknown-{n}", "secret", "")
        token_error(client_credentials(live_server, wrong), "invalid_client", 401)
        token_error(client_credentials(live_server, unknown), "invalid_client", 401)
    assert len(cache) == before
    assert client_credentials(live_server, machine).status_code == 200


def postgres_only(app) -> None:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("LISTEN/NOTIFY needs PostgreSQL")


def wait_until(check, seconds: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds
        time.sleep(0.01)
    return time.monotonic() - started


def test_postgres_a_notification_from_another_process_clears_it(app, make, ctx):
    postgres_only(app)
    cache = app.extensions["ostiary.client_cache"]
    machine = make.machine()
    get_active_client(machine.client_id)
    wait_until(lambda: get_active_client(machine.client_id) is not None and len(cache) > 0, 5)
    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute(f"NOTIFY {invalidation.CHANNEL}")
    assert wait_until(lambda: len(cache) == 0, 1.0) < 1.0


def test_postgres_without_its_listener_it_is_bypassed_until_the_listener_is_back(app, make, ctx):
    postgres_only(app)
    cache = app.extensions["ostiary.client_cache"]
    machine = make.machine()
    wait_until(lambda: get_active_client(machine.client_id) is not None and len(cache) > 0, 5)
    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'ostiary-client-cache' AND pid <> pg_backend_pid()")
        wait_until(lambda: not cache.trusted, 2)
        assert len(cache) == 0
        # Changed behind its back, with no notification at all: nothing stale is served, because nothing is cached.
        other.execute("UPDATE clients SET is_active = false WHERE client_id = %s", (machine.client_id,))
    assert get_active_client(machine.client_id) is None
    db.session.remove()
    wait_until(lambda: cache.trusted, 5)


def test_sqlite_a_commit_by_another_connection_clears_it(app, make, ctx):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PRAGMA data_version is SQLite's")
    machine = make.machine()
    assert get_active_client(machine.client_id) is not None
    db.session.remove()
    with sqlite3.connect(db.engine.url.database) as other:  # another process, say, with no hooks of ours
        other.execute("UPDATE clients SET is_active = 0 WHERE client_id = ?", (machine.client_id,))
    assert get_active_client(machine.client_id) is None


def test_a_revocation_or_a_disabled_account_in_this_process_is_seen_by_the_next_introspection(live_server, app, make):
    from app.services import token_families
    from app.services.users import disable_user
    from tests.flows import introspect, machine_token, tokens_for

    machine, web = make.machine(), make.client()
    person = make.user("introspected@example.com")
    issued = machine_token(live_server, machine)
    user_token = tokens_for(live_server, web, "introspected@example.com")["access_token"]
    for _ in range(3):  # found live, then answered from memory
        assert introspect(live_server, machine, issued)["active"] is True
        assert introspect(live_server, web, user_token)["active"] is True
    claims = introspect(live_server, machine, issued)
    with app.app_context():
        token_families.revoke_access_token(claims["jti"], client_id=claims["client_id"], user_sub=claims["sub"],
                                           expires_at=claims["exp"])
        disable_user(get_by_sub(person.sub), actor=None)
    assert introspect(live_server, machine, issued) == {"active": False}
    assert introspect(live_server, web, user_token) == {"active": False}
