"""API keys `ost_<key_id>_<secret>`: shown once, stored as a SHA-256 digest, traded for JWTs at the token endpoint."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, or_, select, update

from app.errors import ConflictError, NotFoundError, ValidationError
from app.extensions import db
from app.models import ApiKey, User
from app.models.clock import now
from app.security.secrets import digest, generate_secret
from app.services import audit, client_cache
from app.services.clients import validate_scope
from app.services.pagination import Page, paginate
from app.services.roles import allowed_scopes
from app.services.transaction import rows_changed, separate_transaction, transaction

PREFIX = "ost"
KEY_ID = re.compile(r"[0-9a-f]{16}")
# 32 random bytes (256 bits) in unpadded base64url.
SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
# last_used_at is written at most this often per key, so using a key is not a write per request.
TOUCH_INTERVAL_SECONDS = 60
MAX_LIFETIME_SECONDS = 10 * 366 * 24 * 3600


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    key: str  # the only time the whole key exists outside the caller's hands


def parse(key: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None; no database work happens for a malformed one."""
    prefix, _, rest = key.partition("_")
    if prefix != PREFIX:
        return None
    key_id, _, secret = rest.partition("_")
    if not KEY_ID.fullmatch(key_id) or not SECRET.fullmatch(secret):
        return None
    return key_id, secret


def authenticate(key: str, parsed: tuple[str, str] | None = None) -> ApiKey | None:
    """The live key this string is, or None: one SHA-256 and the key (owner joined) from the client cache, a
    detached read-only copy; `parsed`, what parse(key) returned, saves parsing it again."""
    parsed = parsed or parse(key)
    if parsed is None:
        return None
    found = client_cache.cached("api_key", parsed[0], _key_row)
    moment = now()
    if found is None or not found.check_client_secret(key) or not found.is_live(moment):
        return None
    if found.last_used_at is None or moment - found.last_used_at >= TOUCH_INTERVAL_SECONDS:
        _touch(found, moment)
        found.last_used_at = moment  # the cached copy too: the touch itself does not clear the cache
    return found


def _key_row(key_id: str) -> ApiKey | None:
    return db.session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))


def _touch(api_key: ApiKey, moment: int) -> None:
    """One conditional UPDATE: of concurrent uses in the same minute, on any node, only one writes. Its own
    transaction, deliberately: the row lock is held for this statement only, not through the token request,
    and the time of use is kept whether or not that request goes on to succeed."""
    with separate_transaction():
        db.session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == api_key.id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= moment - TOUCH_INTERVAL_SECONDS),
            )
            .values(last_used_at=moment)
            .execution_options(synchronize_session=False)
        )


def create_api_key(
    owner: User, name: str, scope: str, *, expires_at: int | None = None, actor: str | None
) -> IssuedKey:
    """A new key for a person or service account; its scopes never exceed what the owner may hold."""
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ValidationError("name must be 1 to 200 printable characters", field="name")
    scope = validate_scope(scope)
    allowed = allowed_scopes(owner)
    beyond = [s for s in scope.split() if s not in allowed]
    if beyond:
        raise ValidationError(f"the owner may not hold scope {beyond[0]!r}", field="scope")
    moment = now()
    if expires_at is not None and not moment < expires_at <= moment + MAX_LIFETIME_SECONDS:
        raise ValidationError("expires_at must be in the future and within ten years", field="expires_at")
    if not owner.is_active:
        raise ValidationError("the owner is disabled", field="owner")
    key_id = secrets.token_hex(8)
    key = f"{PREFIX}_{key_id}_{generate_secret(32)}"
    with transaction():
        if not owner.is_service_account:
            _refuse_beyond_cap(owner)
        api_key = ApiKey(key_id=key_id, secret_hash=digest(key), name=name, owner_id=owner.id, scope=scope,
                         created_at=moment, expires_at=expires_at)
        db.session.add(api_key)
        db.session.flush()
        api_key.owner = owner
        audit.record("api_key.created", user_sub=owner.sub, client_id=key_id, actor=actor, scope=scope)
    return IssuedKey(api_key, key)


def live_key_count(owner: User) -> int:
    moment = now()
    return db.session.scalar(
        select(func.count()).select_from(ApiKey).where(
            ApiKey.owner_id == owner.id, ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > moment))
    ) or 0


def _refuse_beyond_cap(owner: User) -> None:
    """A person holds at most OSTIARY_LIVE_API_KEYS_PER_PERSON live keys: a session or password in the wrong
    hands cannot mint keys without end."""
    cap = current_app.config["LIVE_API_KEYS_PER_PERSON"]
    # Write-lock the owner's row before counting, so that of two concurrent creations at cap - 1 the second
    # counts after the first has committed. An UPDATE that changes nothing, not SELECT ... FOR UPDATE: SQLite
    # ignores FOR UPDATE, and only a write makes it take its lock before the count.
    db.session.execute(update(User).where(User.id == owner.id).values(updated_at=User.updated_at)
                       .execution_options(synchronize_session=False))
    if live_key_count(owner) >= cap:
        raise ConflictError(f"at most {cap} live API keys per person: revoke one before creating another",
                            field="owner")


def get_api_key(key_id: str, owner: User | None = None) -> ApiKey:
    """A key by id (and owner, when given); NotFoundError otherwise."""
    found = db.session.scalar(select(ApiKey).where(ApiKey.key_id == key_id)) if KEY_ID.fullmatch(key_id) else None
    if found is None or (owner is not None and found.owner_id != owner.id):
        raise NotFoundError("no such API key")
    return found


def is_live_key(key_id: str) -> bool:
    """Whether a key still speaks for its owner (not revoked, not expired, owner enabled), from the client cache."""
    found = client_cache.cached("api_key", key_id, _key_row) if KEY_ID.fullmatch(key_id) else None
    return found is not None and found.is_live(now())


def key_page(owner: User | None, limit: int, cursor: str | None) -> Page[ApiKey]:
    statement = select(ApiKey)
    if owner is not None:
        statement = statement.where(ApiKey.owner_id == owner.id)
    return paginate(statement, ApiKey.id, limit, cursor)


def keys_of(owner: User) -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).where(ApiKey.owner_id == owner.id).order_by(ApiKey.id.desc())))


def revoke_api_key(api_key: ApiKey, *, actor: str | None) -> ApiKey:
    """Refused at the token endpoint from the next request on; revoking twice changes nothing."""
    owner_sub, key_id = api_key.owner.sub, api_key.key_id
    with transaction():
        revoked = rows_changed(
            update(ApiKey).where(ApiKey.id == api_key.id, ApiKey.revoked_at.is_(None)).values(revoked_at=now())
        )
        if revoked == 1:
            audit.record("api_key.revoked", user_sub=owner_sub, client_id=key_id, actor=actor)
    db.session.refresh(api_key)
    return api_key


def delete_api_key(api_key: ApiKey, *, actor: str | None) -> None:
    """Forget a key that no longer works (revoked or expired), so that lists show only what matters; a live key
    is revoked first (ConflictError), so that deleting is never the way a working credential ends unaudited."""
    if api_key.revoked_at is None and (api_key.expires_at is None or api_key.expires_at > now()):
        raise ConflictError("revoke the key before deleting it", field="key_id")
    owner_sub, key_id = api_key.owner.sub, api_key.key_id
    with transaction():
        db.session.execute(delete(ApiKey).where(ApiKey.id == api_key.id).execution_options(synchronize_session=False))
        audit.record("api_key.deleted", user_sub=owner_sub, client_id=key_id, actor=actor)


def revoke_keys_of(owner: User, *, actor: str | None) -> int:
    """Revoke every live key of the owner, each audited; returns how many."""
    moment = now()
    with transaction():
        revoked = db.session.scalars(
            update(ApiKey)
            .where(ApiKey.owner_id == owner.id, ApiKey.revoked_at.is_(None),
                   or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > moment))
            .values(revoked_at=moment)
            .returning(ApiKey.key_id)
            .execution_options(synchronize_session=False)
        ).all()
        for key_id in revoked:
            audit.record("api_key.revoked", user_sub=owner.sub, client_id=key_id, actor=actor)
    return len(revoked)


def narrow_to_owner(owner: User) -> None:
    """After the owner's roles or scopes change, its keys keep only the scopes it may still hold."""
    allowed = set(allowed_scopes(owner))
    with transaction():
        for api_key in db.session.scalars(select(ApiKey).where(ApiKey.owner_id == owner.id)):
            kept = " ".join(s for s in api_key.scope.split() if s in allowed)
            if kept != api_key.scope:
                api_key.scope = kept
