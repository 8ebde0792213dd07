"""consents.grant / deny / remove: a person's decision on a client's request, and taking it back; audited and committed
on its own."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.errors import NotFoundError
from app.extensions import db
from app.models import AuditEvent, Consent, User
from app.services import consents

RESOURCE = "https://api.example.com"


@pytest.fixture
def person(make, ctx) -> User:
    return db.session.get(User, make.user("decides@example.com").id)


def decisions() -> list[tuple[str, str, str | None, str | None, dict]]:
    db.session.rollback()
    return [(e.event, e.outcome, e.user_sub, e.client_id, e.details) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.event.like("consent.%")).order_by(AuditEvent.id))]


def test_a_grant_is_remembered_and_audited(person):
    consents.grant(person, "an-app", "openid profile", None)
    consents.grant(person, "an-app", "email", RESOURCE)

    assert consents.covers(person, "an-app", "openid email", None)
    assert consents.covers(person, "an-app", "profile", RESOURCE)
    assert not consents.covers(person, "an-app", "offline_access", None)
    assert not consents.covers(person, "another-app", "openid", None)
    assert decisions() == [
        ("consent.granted", "success", person.sub, "an-app", {"scope": "openid profile"}),
        ("consent.granted", "success", person.sub, "an-app", {"scope": "email", "resource": RESOURCE}),
    ]
    assert db.session.scalars(select(Consent.scope)).all() == ["openid profile email"]  # one row, merged


def test_a_denial_withdraws_what_was_allowed_before(person):
    consents.grant(person, "an-app", "openid", None)
    consents.grant(person, "another-app", "openid", None)
    consents.deny(person, "an-app", "openid email", RESOURCE)

    assert not consents.covers(person, "an-app", "openid", None)  # asked again next time
    assert consents.covers(person, "another-app", "openid", None)
    assert decisions()[-1] == ("consent.denied", "failure", person.sub, "an-app",
                               {"scope": "openid email", "resource": RESOURCE, "withdrawn": True})


def test_a_first_denial_withdraws_nothing(person):
    consents.deny(person, "an-app", "openid", None)
    assert decisions() == [("consent.denied", "failure", person.sub, "an-app", {"scope": "openid", "withdrawn": False})]


def test_removing_a_consent_is_audited_with_who_did_it(person):
    consents.grant(person, "an-app", "openid", None)
    consents.remove(person, "an-app", actor="cli")

    assert not consents.covers(person, "an-app", "openid", None)
    assert decisions()[-1] == ("consent.revoked", "success", person.sub, "an-app", {"actor": "cli"})
    with pytest.raises(NotFoundError):
        consents.remove(person, "an-app", actor="cli")  # nothing left to remove: no audit row either
    assert len(decisions()) == 2


def test_since_when_survives_later_additions(person):
    consents.grant(person, "an-app", "openid", None)
    db.session.execute(update(Consent).values(created_at=1_000, granted_at=1_000))
    db.session.commit()
    consents.grant(person, "an-app", "email", None)

    consent = db.session.scalars(select(Consent)).one()
    assert consent.created_at == 1_000 and consent.granted_at > 1_000


def test_a_grant_that_fails_half_way_leaves_neither_consent_nor_audit_row(person, monkeypatch):
    remember = consents._remember

    def remember_then_fail(*args):
        remember(*args)
        raise RuntimeError("the connection dropped")

    monkeypatch.setattr(consents, "_remember", remember_then_fail)
    with pytest.raises(RuntimeError):
        consents.grant(person, "an-app", "openid", None)
    assert decisions() == []
    assert db.session.scalars(select(Consent)).all() == []
