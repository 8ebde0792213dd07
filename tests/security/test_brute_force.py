"""Point 1: sign-in is limited per account and per address, counted first; client authentication per address."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from limits.storage import MemoryStorage
from sqlalchemy import select

from app.config import ConfigError, load_settings
from app.extensions import db
from app.models import AuditEvent, LoginSession
from app.security.throttle import Counter, Throttled, network_of, throttle
from tests.factories import DEFAULT_PASSWORD, RegisteredClient
from tests.flows import assert_oauth_error, csrf_token, sign_in
from tests.settings import redis_url

PARALLEL = 50
REDIS_URL = redis_url("brute_force") or ""
LOCKED = "Too many failed sign-in attempts"


def redis_reachable() -> bool:
    try:
        return bool(REDIS_URL) and bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not redis_reachable(),
                                 reason=f"Redis is not reachable at {REDIS_URL or 'a database of this worker'}")


@pytest.fixture
def small_limits(build_app):
    return build_app(SIGN_IN_FAILURES_PER_ACCOUNT=3, SIGN_IN_FAILURES_PER_IP=5, SIGN_IN_LOCKOUT_SECONDS=60,
                     CLIENT_AUTH_FAILURES_PER_IP=5, CLIENT_AUTH_LOCKOUT_SECONDS=60)


def assert_locked_page(response, window_seconds: int = 60) -> None:
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= window_seconds
    assert response.mimetype == "text/html"
    assert LOCKED in response.get_data(as_text=True)


def client_from(application, address: str):
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.mark.parametrize("login", ["known@example.com", "nobody@example.com"])
def test_an_account_is_locked_after_its_failures_known_or_not(make, small_limits, login):
    make.user("known@example.com")
    client = small_limits.test_client()

    statuses = [sign_in(client, login, "wrong password!").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    assert_locked_page(sign_in(client, login, "wrong password!"))
    # Locked means locked: the right password is not even checked until the period ends.
    assert_locked_page(sign_in(client, login))
    # The normalised login is the key: case and spaces do not open a new counter.
    assert_locked_page(sign_in(client, f"  {login.upper()} "))


def test_an_account_has_one_counter_whatever_login_names_it(make, small_limits):
    """Its email and its username are two names for one account: they share its failures."""
    make.user("named@example.com", username="Named")
    client = small_limits.test_client()
    for login in ("named@example.com", "named", "NAMED@example.com"):
        assert sign_in(client, login, "wrong password!").status_code == 401
    assert_locked_page(sign_in(client, "Named"))
    assert_locked_page(sign_in(client, "named@example.com"))


def test_a_login_that_is_a_sub_is_not_that_account(make, small_limits):
    """The account counter of a known account is keyed on its sub; typing the sub as a login is another counter."""
    victim = make.user("victim@example.com")
    client = client_from(small_limits, "203.0.113.8")
    for _ in range(3):
        assert sign_in(client, victim.sub, "wrong password!").status_code == 401
    assert sign_in(client_from(small_limits, "198.51.100.10"), "victim@example.com").status_code == 302


def change_password(client, current: str, new: str = "a brand new passphrase"):
    token = csrf_token(client.get("/account").get_data(as_text=True))
    return client.post("/account/password", data={"current_password": current, "new_password": new,
                                                  "confirm_password": new, "csrf_token": token})


def test_the_current_password_on_the_account_page_is_counted_like_a_sign_in(app, make, small_limits):
    """A session cookie is no licence to guess the password: the account's sign-in limit applies, and is shared."""
    user = make.user("holder@example.com", username="holder")
    holder = small_limits.test_client()
    assert sign_in(holder, "holder").status_code == 302
    assert sign_in(holder, "holder@example.com", "wrong password!").status_code == 401  # one failure at sign-in
    for _ in range(2):
        refused = change_password(holder, "wrong password!")
        assert refused.status_code == 400 and "current password is not correct" in refused.get_data(as_text=True)

    locked = change_password(holder, DEFAULT_PASSWORD)
    assert_locked_page(locked)
    assert 'id="current_password-error"' in locked.get_data(as_text=True)
    assert_locked_page(sign_in(small_limits.test_client(), "holder@example.com"))  # the same counter
    with app.app_context():
        events = [(e.event, e.outcome, e.details) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.user_sub == user.sub).order_by(AuditEvent.id))]
    assert events[-3:] == [
        ("reauthentication", "failure", {"purpose": "password_change"}),
        ("reauthentication", "failure", {"purpose": "password_change"}),
        ("sign_in.locked_out", "failure", {"counters": ["sign_in_account"]}),
    ]
    assert ("user.password_changed", "success", {"actor": user.sub}) not in events


def test_the_password_asked_before_creating_an_api_key_is_counted_too(make, small_limits):
    user = make.user("keyholder@example.com", scope="api:read")
    client = small_limits.test_client()
    assert sign_in(client, "keyholder@example.com").status_code == 302
    make.update(LoginSession, {"user_id": user.id}, auth_time=0)  # signed in long ago

    def create_key(password: str):
        token = csrf_token(client.get("/account/api-keys").get_data(as_text=True))
        return client.post("/account/api-keys", data={"name": "k", "expires_in_days": "0", "password": password,
                                                      "csrf_token": token})

    assert [create_key("wrong password!").status_code for _ in range(3)] == [400] * 3
    locked = create_key(DEFAULT_PASSWORD)
    assert_locked_page(locked)
    assert "API keys" in locked.get_data(as_text=True)


def test_a_right_current_password_is_no_failure(make, small_limits):
    make.user("fine@example.com")
    client = small_limits.test_client()
    assert sign_in(client, "fine@example.com").status_code == 302
    assert change_password(client, DEFAULT_PASSWORD, "short").status_code == 400  # refused for the new one
    assert change_password(client, DEFAULT_PASSWORD, "a new long passphrase").status_code == 302
    assert change_password(client, "a new long passphrase", "another long passphrase").status_code == 302
    assert change_password(client, "another long passphrase", "a third long passphrase").status_code == 302


def test_an_address_is_locked_after_failures_on_many_accounts(make, small_limits):
    make.user("target@example.com")
    attacker = client_from(small_limits, "203.0.113.7")
    for number in range(5):
        assert sign_in(attacker, f"spray{number}@example.com", "Winter2024!").status_code == 401
    assert_locked_page(sign_in(attacker, "target@example.com"))

    elsewhere = client_from(small_limits, "198.51.100.9")
    assert sign_in(elsewhere, "target@example.com").status_code == 302


def test_successful_sign_ins_do_not_count(make, small_limits):
    make.user("often@example.com")
    client = small_limits.test_client()
    assert [sign_in(client, "often@example.com").status_code for _ in range(8)] == [302] * 8
    assert [sign_in(client, "often@example.com", "wrong password!").status_code for _ in range(3)] == [401] * 3


@pytest.mark.slow
def test_the_lockout_is_temporary(make, build_app):
    make.user("patient@example.com")
    client = build_app(SIGN_IN_FAILURES_PER_ACCOUNT=2, SIGN_IN_LOCKOUT_SECONDS=1).test_client()
    for _ in range(2):
        sign_in(client, "patient@example.com", "wrong password!")
    assert sign_in(client, "patient@example.com").status_code == 429
    time.sleep(1.2)
    assert sign_in(client, "patient@example.com").status_code == 302


def test_ipv6_clients_are_counted_per_64():
    assert network_of("2001:db8:1:2:aaaa::1") == network_of("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert network_of("2001:db8:1:3::1") != network_of("2001:db8:1:2::1")
    assert network_of("::ffff:192.0.2.1") == "192.0.2.1"
    assert network_of(None) == network_of("not an address") == "unknown"


def test_50_parallel_wrong_passwords_cannot_exceed_the_account_limit(live_server, make, app):
    make.user("victim@example.com")
    limit = app.config["SIGN_IN_FAILURES_PER_ACCOUNT"]
    browsers = []
    for _ in range(PARALLEL):
        browser = requests.Session()
        browsers.append((browser, csrf_token(browser.get(f"{live_server}/login").text)))

    def attempt(prepared: tuple[requests.Session, str]) -> requests.Response:
        browser, token = prepared
        return browser.post(f"{live_server}/login", allow_redirects=False,
                            data={"login": "victim@example.com", "password": "guess-guess", "csrf_token": token})

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = sorted(r.status_code for r in pool.map(attempt, browsers))

    assert statuses == [401] * limit + [429] * (PARALLEL - limit)
    # The owner, too, waits for the lockout to end: a password guessed in the meantime is no use to anyone.
    owner = requests.Session()
    token = csrf_token(owner.get(f"{live_server}/login").text)
    locked = owner.post(f"{live_server}/login", allow_redirects=False,
                        data={"login": "victim@example.com", "password": DEFAULT_PASSWORD, "csrf_token": token})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0


CLIENT_AUTH_PATHS = [
    ("/oauth/token", {"grant_type": "client_credentials"}),
    ("/oauth/revoke", {"token": "anything"}),
    ("/oauth/introspect", {"token": "anything"}),
]


def assert_slow_down(response, window_seconds: int = 60) -> None:
    assert_oauth_error(response, "slow_down", 429)
    assert 0 < int(response.headers["Retry-After"]) <= window_seconds


@pytest.mark.parametrize(("path", "data"), CLIENT_AUTH_PATHS)
def test_50_parallel_wrong_client_secrets_from_one_address_exhaust_only_its_failures(make, build_app, path, data):
    """Exactly the address's limit of failures is answered 401, the rest 429; the right secret is never refused."""
    limit = 20
    application = build_app(CLIENT_AUTH_FAILURES_PER_IP=limit, CLIENT_AUTH_LOCKOUT_SECONDS=60)
    machine = make.machine()

    def attempt(number: int):
        return client_from(application, "203.0.113.50").post(path, data=data, auth=(machine.client_id, f"wrong-{number}"))

    with ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(attempt, range(PARALLEL)))

    assert sorted(r.status_code for r in responses) == [401] * limit + [429] * (PARALLEL - limit)
    for refused in (r for r in responses if r.status_code == 429):
        assert_slow_down(refused)
    # Secrets carry 256 random bits: a locked address is told to slow down, never kept from a correct secret.
    same_address = client_from(application, "203.0.113.50")
    assert same_address.post(path, data=data, auth=(machine.client_id, machine.client_secret)).status_code == 200
    assert_slow_down(same_address.post(path, data=data, auth=(machine.client_id, "wrong-again")))


def wrong_credentials(kind: str, registered: RegisteredClient) -> tuple[str, str]:
    """Basic credentials naming this client or key, with a wrong secret (for a key, a well-formed wrong key)."""
    return registered.client_id, f"ost_{registered.client_id}_{'A' * 43}" if kind == "API key" else "junk"


def right_request(kind: str, registered: RegisteredClient) -> tuple[str, dict]:
    if kind == "public client":  # RFC 7009 §2.1: a public client revokes with its client_id alone
        return "/oauth/revoke", {"data": {"token": "anything", "client_id": registered.client_id}}
    return "/oauth/token", {"data": {"grant_type": "client_credentials"},
                            "auth": (registered.client_id, registered.client_secret)}


@pytest.mark.parametrize("kind", ["confidential client", "API key", "public client"])
def test_failures_by_others_never_lock_a_client_out(make, build_app, kind):
    """client_ids are public: junk sent in a client's name from anywhere must not keep the client from its tokens."""
    application = build_app(CLIENT_AUTH_FAILURES_PER_IP=5, CLIENT_AUTH_LOCKOUT_SECONDS=60)
    if kind == "API key":
        registered = make.api_key(make.service_account(scope="api:read"), scope="api:read")
    else:
        registered = make.machine() if kind == "confidential client" else make.client(public=True)

    for number in range(60):  # 60 junk requests in the client's name from 12 addresses, 5 each
        junk = client_from(application, f"198.51.100.{number % 12}")
        response = junk.post("/oauth/token", data={"grant_type": "client_credentials"},
                             auth=wrong_credentials(kind, registered))
        assert response.status_code == 401

    path, request = right_request(kind, registered)
    for address in ("192.0.2.1", "198.51.100.0"):  # elsewhere, and at an address whose failures are exhausted
        assert client_from(application, address).post(path, **request).status_code == 200, address


def test_a_good_client_authentication_costs_no_rate_limit_storage_round_trip(make, small_limits, monkeypatch):
    """Only a failure is counted: the token endpoint's hot path leaves the counters (Redis in production) alone."""
    machine = make.machine()
    calls: list[str] = []
    running: list[str] = []

    def counting(name: str):
        """Record the storage operations the throttle calls (not those MemoryStorage makes of its own)."""
        original = getattr(MemoryStorage, name)

        def call(self, *args, **kwargs):
            if not running:
                calls.append(name)
            running.append(name)
            try:
                return original(self, *args, **kwargs)
            finally:
                running.pop()

        return call

    for name in ("incr", "get", "get_expiry"):
        monkeypatch.setattr(MemoryStorage, name, counting(name))
    client = small_limits.test_client()
    for _ in range(3):
        assert client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(machine.client_id, machine.client_secret)).status_code == 200
    assert calls == []
    assert client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(machine.client_id, "wrong")).status_code == 401
    assert calls == ["incr"]


def test_good_client_secrets_are_never_limited(make, small_limits):
    machine = make.machine()
    client = small_limits.test_client()
    for _ in range(20):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(machine.client_id, machine.client_secret))
        assert response.status_code == 200


def counted_in_parallel(application, counter: Counter) -> int:
    """50 threads each take a slot, wait until all have tried (a slow password check), then fail."""
    barrier = threading.Barrier(PARALLEL)
    granted = []

    def attempt(_: int) -> None:
        with application.app_context():
            try:
                slot = throttle().attempt([counter])
            except Throttled:
                barrier.wait()
                return
            barrier.wait()
            granted.append(slot.fail())

    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(attempt, range(PARALLEL)))
    return len(granted)


def test_the_slot_is_taken_before_the_check_so_concurrency_cannot_exceed_the_limit(app):
    """Had the counter been read before the check and written after it, all 50 would have been let through."""
    assert counted_in_parallel(app, Counter("test", uuid.uuid4().hex, 10, 60)) == 10


@needs_redis
def test_nodes_sharing_redis_share_the_counts(make, build_app):
    make.user("shared@example.com")
    # The per-address counter is shared with every other run on this Redis: only the account's is under test.
    settings = {"REDIS_URL": REDIS_URL, "SIGN_IN_FAILURES_PER_ACCOUNT": 4, "SIGN_IN_FAILURES_PER_IP": 10**6}
    node_a, node_b = build_app(**settings), build_app(**settings)
    login = f"shared-{uuid.uuid4().hex}@example.com"  # counters of earlier runs stay in Redis until they expire
    for node in (node_a, node_b, node_a, node_b):
        assert sign_in(node.test_client(), login, "wrong password!").status_code == 401
    assert_locked_page(sign_in(node_b.test_client(), login), 900)
    assert_locked_page(sign_in(node_a.test_client(), login), 900)

    assert counted_in_parallel(node_a, Counter("test", uuid.uuid4().hex, 10, 60)) == 10


def test_an_unreachable_redis_falls_back_to_counting_on_this_node(make, build_app, caplog):
    make.user("fallback@example.com")
    node = build_app(REDIS_URL="redis://127.0.0.1:9/0", SIGN_IN_FAILURES_PER_ACCOUNT=2)  # the discard port
    client = node.test_client()
    assert [sign_in(client, "fallback@example.com", "wrong password!").status_code for _ in range(2)] == [401, 401]
    assert sign_in(client, "fallback@example.com").status_code == 429
    assert "rate-limit storage unavailable" in caplog.text


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "redis://", "redis://127.0.0.1/db", "redis://h:99999",
                                 "redis+unix://"])
def test_a_bad_redis_url_is_refused_at_start_up(url):
    with pytest.raises(ConfigError, match="OSTIARY_REDIS_URL"):
        load_settings({"OSTIARY_REDIS_URL": url}, None)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379", "redis://:secret@cache.internal:6380/2",
                                 "rediss://cache.internal/0", "redis+unix:///run/redis.sock"])
def test_good_redis_urls_are_accepted(url):
    assert load_settings({"OSTIARY_REDIS_URL": url}, None)["REDIS_URL"] == url


def test_the_password_in_a_bad_redis_url_is_not_echoed():
    with pytest.raises(ConfigError) as raised:
        load_settings({"OSTIARY_REDIS_URL": "redis://:hunter2-secret@cache/x"}, None)
    assert "hunter2-secret" not in str(raised.value)
