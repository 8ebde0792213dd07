"""Options that take a time accept ISO 8601, Unix seconds and durations: `audit list --since 1h`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from app.cli import cli
from app.extensions import db
from app.models import AuditEvent

HOUR = 3600


def listed(runner, *args: str) -> list[str]:
    result = runner.invoke(cli, ["audit", "list", *args, "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return [event["event"] for event in json.loads(result.stdout)]


@pytest.fixture
def trail(app):
    """Events two days, two hours and ten minutes old, and one on 2026-01-01 at noon UTC."""
    now = int(time.time())
    moments = {"two_days": now - 48 * HOUR, "two_hours": now - 2 * HOUR, "ten_minutes": now - 600,
               "new_year": int(datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp())}
    with app.app_context():
        db.session.add_all(AuditEvent(at=at, event=name) for name, at in moments.items())
        db.session.commit()


@pytest.mark.parametrize(("args", "events"), [
    (["--since", "1h"], ["ten_minutes"]),
    (["--since", "3h"], ["ten_minutes", "two_hours"]),
    (["--since", "1h30m", "--until", "5m"], ["ten_minutes"]),
    (["--since", "1d", "--until", "1h"], ["two_hours"]),
    (["--since", "2w"], ["ten_minutes", "two_hours", "two_days"]),
    (["--since", "2026-01-01", "--until", "2026-01-02"], ["new_year"]),
    (["--since", "2026-01-01T12:00:00Z", "--until", "2026-01-01T12:00:01Z"], ["new_year"]),
    (["--since", "2026-01-01T13:00:00+01:00", "--until", "2026-01-01T12:00:01"], ["new_year"]),
    (["--until", "2026-01-01T12:00:00Z"], []),
    (["--since", str(int(datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp())), "--until", "2026-01-02"], ["new_year"]),
])
def test_since_and_until(runner, trail, args, events):
    assert sorted(listed(runner, *args)) == sorted(events)


@pytest.mark.parametrize("value", ["yesterday", "1y", "-1h", "1.5h", "2026-13-01", "h", ""])
def test_a_time_that_cannot_be_read_is_a_usage_error_naming_the_formats(runner, value):
    result = runner.invoke(cli, ["audit", "list", "--since", value])
    assert result.exit_code == 2, result.output
    assert "ISO 8601" in result.stderr and "1h" in result.stderr


def test_an_api_key_expires_at_a_time_or_after_a_duration(runner, make):
    make.user("ann@example.com", scope="x:y")

    def expires(*args: str) -> int | None:
        result = runner.invoke(cli, ["api-keys", "create", "--owner", "ann@example.com", "--name", "k", "--scope",
                                     "x:y", *args, "--json"])
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return json.loads(result.stdout)["expires_at"]

    assert abs(expires("--expires", "90d") - (time.time() + 90 * 24 * HOUR)) < 60
    assert expires("--expires", "2030-01-01") == int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    assert abs(expires("--expires-in-days", "7") - (time.time() + 7 * 24 * HOUR)) < 60
    assert expires() is None
