"""Time the hot path in-process: client_credentials, refresh_token and introspection through the Flask test client.

usage: OSTIARY_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/DB python tests/bench/hot_path.py [N] [ROUNDS]

The database's public schema is dropped and migrated afresh, so point it at a scratch database. Each round
times N requests of each kind, one after another (refreshes follow one family's rotation chain, as a client
does); the figures printed per kind are the median round's wall-clock and this process's CPU time per request,
and the SQL statements and Python function calls per request. No HTTP server, no network: what is measured is
Ostiary's own per-request work plus the database round trips it makes. On a shared machine the CPU time is the
steadier of the timings, and the two counts do not depend on the load at all.

Served as `ostiary serve` serves, every request also writes JSON log lines and counts in per-process metric files:
OSTIARY_BENCH_LOG_LEVEL=INFO (default WARNING: no line) writes the lines to /dev/null, and PROMETHEUS_MULTIPROC_DIR
set to an empty directory keeps the metrics there.
"""

from __future__ import annotations

import base64
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event, text

from app import create_app
from app.extensions import db
from app.models import RefreshToken
from app.security.secrets import digest, generate_secret
from app.services.clients import create_client
from app.services.users import create_user

ISSUER = "http://127.0.0.1:5000"
WARM_UP = 50


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def timed(count: int, call: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds for `count` calls."""
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        call()
    return time.perf_counter() - started, time.process_time() - cpu


def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else 500
    rounds = int(argv[2]) if len(argv) > 2 else 5
    url = os.environ.get("OSTIARY_BENCH_DATABASE_URL")
    if not url:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    scratch = tempfile.mkdtemp(prefix="ostiary-bench-")
    app = create_app({
        "DATABASE_URL": url, "KEYS_DIR": f"{scratch}/keys", "MAIL_DIR": f"{scratch}/mail", "ISSUER": ISSUER,
        "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "LOG_LEVEL": os.environ.get("OSTIARY_BENCH_LOG_LEVEL", "WARNING"),
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024, "ARGON2_PARALLELISM": 1,
    })
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (kept open until the process ends)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        machine = create_client("bench machine", redirect_uris=[], grant_types=["client_credentials"],
                                scope="api:read")
        app_client = create_client("bench app", redirect_uris=["http://127.0.0.1:8765/callback"],
                                   scope="openid offline_access")
        user = create_user("bench@example.com", "correct horse battery staple")
        first_refresh = generate_secret(32)
        moment = int(time.time())
        db.session.add(RefreshToken(
            token_hash=digest(first_refresh), family_id=str(uuid.uuid4()), client_id=app_client.client.client_id,
            user_id=user.id, scope="openid offline_access", auth_time=moment, amr="pwd", issued_at=moment,
            expires_at=moment + 3600))
        db.session.commit()
        machine_auth = basic(machine.client.client_id, machine.client_secret or "")
        app_auth = basic(app_client.client.client_id, app_client.client_secret or "")

    http: FlaskClient = app.test_client()
    form = {"content_type": "application/x-www-form-urlencoded", "base_url": ISSUER}

    def client_credentials() -> str:
        response = http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "api:read"},
                             headers=machine_auth, **form)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["access_token"]

    chain = [first_refresh]

    def refresh() -> None:
        response = http.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": chain[-1]},
                             headers=app_auth, **form)
        assert response.status_code == 200, response.get_data(as_text=True)
        chain.append(response.get_json()["refresh_token"])

    access_token = client_credentials()

    def introspect() -> None:
        response = http.post("/oauth/introspect", data={"token": access_token}, headers=machine_auth, **form)
        assert response.status_code == 200 and response.get_json()["active"], response.get_data(as_text=True)

    kinds = {"client_credentials": client_credentials, "refresh_token": refresh, "introspection": introspect}
    statements = [0]

    def counted(*_: object) -> None:
        statements[0] += 1

    with app.app_context():
        engine = db.engine
    for call in kinds.values():
        timed(WARM_UP, call)
    calls = [0]

    def profile(frame: object, what: str, arg: object) -> None:
        if what in ("call", "c_call"):
            calls[0] += 1

    event.listen(engine, "before_cursor_execute", counted)
    per_request: dict[str, tuple[float, float]] = {}
    for name, call in kinds.items():
        statements[0] = calls[0] = 0
        sys.setprofile(profile)
        timed(WARM_UP, call)
        sys.setprofile(None)
        per_request[name] = statements[0] / WARM_UP, calls[0] / WARM_UP
    event.remove(engine, "before_cursor_execute", counted)
    wall: dict[str, list[float]] = {name: [] for name in kinds}
    cpu: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(rounds):
        for name, call in kinds.items():
            seconds, cpu_seconds = timed(count, call)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    print(f"{count} requests x {rounds} rounds, median round:")
    for name in kinds:
        median = statistics.median(wall[name])
        print(f"  {name:<20} {count / median:6.0f} req/s  {1000 * median / count:6.2f} ms/request wall"
              f"  {1000 * statistics.median(cpu[name]) / count:6.2f} ms/request CPU"
              f"  {per_request[name][0]:4.1f} SQL statements  {per_request[name][1]:7.0f} function calls/request")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
