"""Passwordless passkey challenges: anyone may ask for one, and each is stored until it expires, so they are
limited per client address (OSTIARY_PASSKEY_CHALLENGES_PER_IP a minute)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.extensions import db
from app.models import OneTimeToken


def csrf_token(http) -> str:
    page = http.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_challenges_are_limited_per_address_and_stop_being_stored(build_app):
    app = build_app(PASSKEY_CHALLENGES_PER_IP=3)
    http = app.test_client()
    headers = {"X-CSRFToken": csrf_token(http)}
    for _ in range(3):
        answer = http.post("/login/passkey-options", headers=headers)
        assert answer.status_code == 200 and answer.get_json()["options"]["challenge"], answer.get_data(as_text=True)
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(OneTimeToken))
    assert stored == 3
    for _ in range(20):
        refused = http.post("/login/passkey-options", headers=headers)
        assert refused.status_code == 429
        assert refused.get_json() == {"error": "slow_down",
                                      "error_description": "too many passkey sign-ins from this address"}
        assert 0 < int(refused.headers["Retry-After"]) <= 60
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OneTimeToken)) == stored
