"""Remembered consent: a user is asked again only for scopes not yet allowed to a client."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Consent, User


def _find(user: User, client_id: str) -> Consent | None:
    return db.session.scalar(select(Consent).where(Consent.user_id == user.id, Consent.client_id == client_id))


def covers(user: User, client_id: str, scope: str) -> bool:
    consent = _find(user, client_id)
    if consent is None:
        return False
    return set(scope.split()) <= set(consent.scope.split())


def remember(user: User, client_id: str, scope: str) -> None:
    consent = _find(user, client_id)
    if consent is None:
        db.session.add(Consent(user_id=user.id, client_id=client_id, scope=scope))
    else:
        consent.scope = " ".join(dict.fromkeys(consent.scope.split() + scope.split()))
    db.session.commit()
