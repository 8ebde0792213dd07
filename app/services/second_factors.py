"""An account's authenticator app (RFC 6238 TOTP) and recovery codes: enrolment on the account page, and the
checks the sign-in makes (app/services/authentication.py). Passkeys are app/services/passkeys.py.

Enrolling or removing a factor is a change of how the account signs in (users.authentication_factor_changed) and
needs a recent sign-in. A TOTP code is accepted once: the step it belongs to is recorded by a conditional UPDATE
that only a later step can pass (RFC 6238 §5.2), so two concurrent submissions of one code cannot both succeed.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, or_, select, update

from app.assurance import ACR_MFA, ACR_PASSWORD, ACR_PHISHING_RESISTANT
from app.errors import ConflictError, ValidationError
from app.extensions import db
from app.models import Client, LoginSession, Passkey, RecoveryCode, TotpSecret, User
from app.models.clock import now
from app.security import sealed, totp
from app.security.secrets import keyed_digest
from app.services import audit, one_time_tokens, outbox, users
from app.services.transaction import rows_changed, transaction

log = logging.getLogger(__name__)

RECOVERY_CODE_COUNT = 10
# 10 characters of an alphabet without look-alikes (no 0/O, 1/l/I): 50 bits, shown as "xxxxx-xxxxx".
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_CODE_CHARS = 10
_TOTP_PURPOSE = "totp"


class RecentSignInRequired(ValidationError):
    """The sign-in is older than OSTIARY_REAUTHENTICATE_SECONDS: the person proves it is them first."""


@dataclass(frozen=True)
class TotpEnrolment:
    """What the account page shows once, while the app is being set up: never again after confirmation."""

    secret: str
    uri: str
    qr_svg: str


@dataclass(frozen=True)
class Factors:
    totp: bool
    totp_pending: bool
    recovery_codes_left: int
    passkeys: int

    @property
    def any(self) -> bool:
        return self.totp or self.passkeys > 0

    @property
    def strongest_acr(self) -> str:
        """The highest level a sign-in of this account can reach."""
        if self.passkeys:
            return ACR_PHISHING_RESISTANT
        return ACR_MFA if self.totp else ACR_PASSWORD


def factors_of(user: User) -> Factors:
    found = _totp_of(user)
    return Factors(
        totp=found is not None and found.confirmed_at is not None,
        totp_pending=found is not None and found.confirmed_at is None,
        recovery_codes_left=remaining_recovery_codes(user),
        passkeys=db.session.scalar(select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id)) or 0,
    )


def required_acr(user: User, client: Client | None) -> str | None:
    """The level a sign-in must reach by policy, whatever a relying party asks: mfa for a client registered with
    require_mfa, and for everyone or administrators under OSTIARY_REQUIRE_MFA; else None."""
    policy = current_app.config["REQUIRE_MFA"]
    if (client is not None and client.require_mfa) or policy == "everyone" or (policy == "admins" and user.is_admin):
        return ACR_MFA
    return None


def must_enrol(user: User, client: Client | None = None) -> bool:
    """A policy asks for a second factor this account does not have yet: it is sent to set one up."""
    return required_acr(user, client) is not None and not factors_of(user).any


def require_recent_sign_in(login_session: LoginSession) -> None:
    # Late import: authentication imports this module for the sign-in's second step.
    from app.services.authentication import authenticated_recently

    if not authenticated_recently(login_session):
        raise RecentSignInRequired("confirm your password first", field="password")


# --- the authenticator app ---------------------------------------------------------------------------------------

def begin_totp(login_session: LoginSession) -> TotpEnrolment:
    """A new secret, stored unconfirmed (it does not count until confirm_totp); replaces an unconfirmed one."""
    require_recent_sign_in(login_session)
    user = login_session.user
    with transaction():
        found = _totp_of(user)
        if found is not None and found.confirmed_at is not None:
            raise ConflictError("an authenticator app is already set up: remove it first")
        secret = totp.new_secret()
        if found is None:
            found = TotpSecret(user_id=user.id)
            db.session.add(found)
        found.secret_ciphertext = _encrypt(user, secret)
        found.created_at = now()
        found.last_used_step = None
    return _enrolment(user, secret)


def pending_totp(user: User) -> TotpEnrolment | None:
    """The enrolment under way (to show its QR code again after a wrong first code), or None."""
    found = _totp_of(user)
    if found is None or found.confirmed_at is not None:
        return None
    return _enrolment(user, _decrypt(user, found))


def confirm_totp(login_session: LoginSession, code: str) -> list[str]:
    """The first code proves the app holds the secret: from now on the app is a second factor. The account's
    other sessions end and its apps sign in again. Returns new recovery codes when the account had none left."""
    require_recent_sign_in(login_session)
    user = login_session.user
    with transaction():
        found = _totp_of(user)
        if found is None or found.confirmed_at is not None:
            raise ConflictError("there is no authenticator app being set up")
        step = totp.matching_step(_decrypt(user, found), code, after=None)
        if step is None:
            raise ValidationError("that code is not correct: enter the code the app shows now", field="code")
        found.confirmed_at, found.last_used_step = now(), step
        audit.record("second_factor.enrolled", user_sub=user.sub, actor=user.sub, method="totp")
        users.authentication_factor_changed(user, actor=user.sub, keep_session=login_session.id)
        return recovery_codes_for_new_factor(user)


def remove_totp(login_session: LoginSession) -> bool:
    require_recent_sign_in(login_session)
    user = login_session.user
    with transaction():
        removed = rows_changed(delete(TotpSecret).where(TotpSecret.user_id == user.id)) > 0
        if removed:
            audit.record("second_factor.removed", user_sub=user.sub, actor=user.sub, method="totp")
            void_recovery_codes_without_factors(user)
            users.authentication_factor_changed(user, actor=user.sub, keep_session=login_session.id)
        return removed


def verify_totp(user: User, code: str) -> bool:
    """RFC 6238 §5.2: the code of a step within one step of now, later than the last accepted step. The step is
    recorded by one conditional UPDATE: of concurrent submissions of one code, exactly one passes. Part of the
    caller's transaction."""
    found = _totp_of(user)
    if found is None or found.confirmed_at is None:
        return False
    try:
        secret = _decrypt(user, found)
    except sealed.Unreadable:
        # OSTIARY_DATA_KEY (or the secret key) changed since enrolment: the app cannot be checked, recovery
        # codes and passkeys still work. An operator's mistake, said in the log, not a 500 for the person.
        log.error("the TOTP secret of %s does not decrypt: was OSTIARY_DATA_KEY changed?", user.sub)
        return False
    step = totp.matching_step(secret, code, after=found.last_used_step)
    if step is None:
        return False
    return rows_changed(
        update(TotpSecret)
        .where(TotpSecret.id == found.id, or_(TotpSecret.last_used_step.is_(None), TotpSecret.last_used_step < step))
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    ) == 1


def remove_all(user: User, *, actor: str | None) -> Factors:
    """An administrator removes every second factor of a person who lost them (audited); every session ends and
    every app signs in again, as for any change of how the account signs in. Returns what there was."""
    with transaction():
        before = factors_of(user)
        for model in (TotpSecret, Passkey, RecoveryCode):
            db.session.execute(delete(model).where(model.user_id == user.id).execution_options(synchronize_session=False))
        # A half-finished sign-in (password given, factor owed) or a passkey ceremony under way ends too.
        for purpose in ("mfa_challenge", "webauthn_challenge"):
            one_time_tokens.invalidate(purpose, user.id)
        audit.record("second_factor.removed_all", user_sub=user.sub, actor=actor, totp=before.totp,
                     passkeys=before.passkeys, recovery_codes=before.recovery_codes_left)
        users.authentication_factor_changed(user, actor=actor)
    return before


# --- recovery codes --------------------------------------------------------------------------------------------

def regenerate_recovery_codes(login_session: LoginSession) -> list[str]:
    """Ten new codes, shown once; every older code stops working."""
    require_recent_sign_in(login_session)
    user = login_session.user
    with transaction():
        if not factors_of(user).any:
            raise ConflictError("recovery codes need a second factor: set up an authenticator app or a passkey")
        codes = _new_recovery_codes(user)
        audit.record("second_factor.recovery_codes_generated", user_sub=user.sub, actor=user.sub)
    return codes


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def use_recovery_code(user: User, code: str) -> bool:
    """One conditional UPDATE: a code works exactly once. Its use is audited and mailed to the account, so a
    person whose codes were stolen learns of it. Part of the caller's transaction."""
    normalized = _normalize_recovery_code(code)
    if normalized is None:
        return False
    used = rows_changed(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _recovery_hash(user, normalized),
               RecoveryCode.used_at.is_(None))
        .values(used_at=now())
        .execution_options(synchronize_session=False)
    ) == 1
    if used:
        left = remaining_recovery_codes(user)
        audit.record("second_factor.recovery_code_used", user_sub=user.sub, remaining=left)
        if user.email:
            outbox.enqueue(user.email, "recovery_code_used", {"remaining": left, "link": _account_link()},
                           user_sub=user.sub)
    return used


def format_recovery_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def void_recovery_codes(user: User) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id)
                       .execution_options(synchronize_session=False))


def recovery_codes_for_new_factor(user: User) -> list[str]:
    """A factor was enrolled: ten recovery codes if the account has none left (shown once), else none."""
    return [] if remaining_recovery_codes(user) else _new_recovery_codes(user)


def void_recovery_codes_without_factors(user: User) -> None:
    """With no second factor left, recovery codes would recover nothing: they go too."""
    if not factors_of(user).any:
        void_recovery_codes(user)


def _new_recovery_codes(user: User) -> list[str]:
    void_recovery_codes(user)
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_CHARS))
             for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(user, code)) for code in codes)
    return [format_recovery_code(code) for code in codes]


def _normalize_recovery_code(code: str) -> str | None:
    if not isinstance(code, str) or len(code) > 40:
        return None
    compact = code.strip().lower().replace("-", "").replace(" ", "")
    if len(compact) != RECOVERY_CODE_CHARS or any(c not in RECOVERY_ALPHABET for c in compact):
        return None
    return compact


def _recovery_hash(user: User, code: str) -> str:
    # Keyed and bound to the account: 50 bits would not survive an offline search of a plain digest.
    return keyed_digest(f"recovery-code\x00{user.id}\x00{code}", current_app.config["SECRET_KEY"])


def _account_link() -> str:
    return f"{current_app.config['ISSUER']}/account/security"


# --- storage of the secret ---------------------------------------------------------------------------------------

def _totp_of(user: User) -> TotpSecret | None:
    return db.session.scalar(select(TotpSecret).where(TotpSecret.user_id == user.id))


def _sealing_purpose(user: User) -> str:
    # The owner is part of the purpose, so a sealed secret copied to another account's row does not open.
    return f"{_TOTP_PURPOSE}:{user.sub}"


def _encrypt(user: User, secret: str) -> str:
    return sealed.seal(_sealing_purpose(user), secret.encode())


def _decrypt(user: User, found: TotpSecret) -> str:
    return sealed.unseal(_sealing_purpose(user), found.secret_ciphertext).decode()


def _enrolment(user: User, secret: str) -> TotpEnrolment:
    uri = totp.provisioning_uri(secret, account=user.email or user.username or user.sub,
                                issuer=current_app.config["BRAND_NAME"])
    return TotpEnrolment(secret=secret, uri=uri, qr_svg=totp.qr_svg(uri))
