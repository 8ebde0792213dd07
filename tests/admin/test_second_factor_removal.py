"""A person who lost every second factor: an administrator removes them (admin API or CLI, one service), audited;
the person's sessions end, and the next sign-in needs the password only."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.cli import cli
from app.extensions import db
from app.models import AuditEvent, LoginSession, TotpSecret
from app.services import second_factors
from app.services.authentication import SignedIn, sign_in
from tests.admin.conftest import refused
from tests.factories import DEFAULT_PASSWORD
from tests.mfa.conftest import enrol_totp, login_session


def test_the_admin_api_removes_every_factor_and_ends_the_sessions(app, api, make):
    with app.app_context():
        enrolled = enrol_totp(make.user("lost@example.com"))
    assert api.delete(f"/users/{enrolled.user.sub}/second-factors").status_code == 204
    with app.app_context():
        assert not second_factors.factors_of(enrolled.user).any
        assert db.session.scalar(select(TotpSecret)) is None
        assert login_session(enrolled.session_token).revoked_at is not None
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "second_factor.removed_all")).one()
        assert event.details == {"totp": True, "passkeys": 0, "recovery_codes": 10, "actor": event.details["actor"]}
        assert isinstance(sign_in("lost@example.com", DEFAULT_PASSWORD, ip=None, user_agent=None, replacing=None),
                          SignedIn)
    refused(api.delete("/users/no-such-sub/second-factors"), 404, "not_found")


def test_the_command_line_says_what_it_removed(app, runner, make):
    with app.app_context():
        enrolled = enrol_totp(make.user("cli@example.com"))
    result = runner.invoke(cli, ["users", "remove-factors", "cli@example.com", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"sub": enrolled.user.sub, "totp": True, "passkeys": 0, "recovery_codes": 10}
    with app.app_context():
        assert db.session.scalars(select(LoginSession).where(LoginSession.revoked_at.is_(None))).all() == []
