"""WebAuthn passkeys (W3C Web Authentication Level 3) through py_webauthn: registration on the account page, and
assertions for the sign-in, as a second factor after the password or alone (a discoverable credential that
verified the person). The relying party id is the issuer's host and the origin the issuer itself.

A ceremony's challenge is a one-time token (purpose webauthn_challenge): single use, expiring, bound to the
account when there is one. An assertion must carry a counter greater than the stored one when either is non-zero
(WebAuthn §6.1.1: a counter that does not grow means a cloned authenticator); the new count is written by a
conditional UPDATE on the old one, so two concurrent uses of one assertion cannot both pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.assurance import HARDWARE_KEY, SOFTWARE_KEY, USER_PRESENCE
from app.errors import NotFoundError, ValidationError
from app.extensions import db
from app.models import LoginSession, Passkey, User
from app.models.clock import now
from app.services import audit, one_time_tokens, second_factors, users
from app.services.transaction import rows_changed, transaction

CHALLENGE = "webauthn_challenge"
CHALLENGE_TTL_SECONDS = 300
TIMEOUT_MS = CHALLENGE_TTL_SECONDS * 1000
MAX_CREDENTIAL_CHARS = 16_000
MAX_NAME_CHARS = 64
# WebAuthn §5.1 rawId as base64url text of at most the stored column's length: anything else names no passkey of ours.
CREDENTIAL_ID = re.compile(r"[A-Za-z0-9_-]{1,1400}")
ALGORITHMS = [COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.EDDSA,
              COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256]
REGISTER, SECOND_FACTOR, PASSWORDLESS = "register", "second_factor", "passwordless"


class PasskeyRefused(ValidationError):
    """The browser's answer did not prove what it should (another challenge, origin or RP id, a bad signature,
    a counter gone backwards, an unknown credential): one message for the person, the reason in the audit."""

    def __init__(self, event: str, user: User | None, reason: str) -> None:
        super().__init__("the passkey could not be verified: try again", field="passkey")
        self.event, self.user_sub, self.reason = event, user.sub if user else None, reason[:200]

    def audit(self) -> None:
        audit.record(self.event, outcome="failure", user_sub=self.user_sub, reason=self.reason)


@dataclass(frozen=True)
class Ceremony:
    """Options for navigator.credentials (as the JSON py_webauthn makes) and the token naming their challenge."""

    options: dict[str, Any]
    token: str


@dataclass(frozen=True)
class Asserted:
    user: User
    amr: tuple[str, ...]
    user_verified: bool


def rp_id() -> str:
    return urlsplit(current_app.config["ISSUER"]).hostname or ""


def origin() -> str:
    return current_app.config["ISSUER"]


def passkeys_of(user: User) -> list[Passkey]:
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)))


# --- registration ------------------------------------------------------------------------------------------------

def registration_options(login_session: LoginSession) -> Ceremony:
    """A discoverable credential (so it also signs in without a password), not one the account already has."""
    second_factors.require_recent_sign_in(login_session)
    user = login_session.user
    options = generate_registration_options(
        rp_id=rp_id(), rp_name=current_app.config["BRAND_NAME"], user_id=user_handle(user),
        user_name=user.email or user.username or user.sub, user_display_name=user.name or user.email or "",
        timeout=TIMEOUT_MS, supported_pub_key_algs=ALGORITHMS,
        exclude_credentials=[_descriptor(found) for found in passkeys_of(user)],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.PREFERRED),
    )
    return _ceremony(options, user=user, kind=REGISTER)


def register(login_session: LoginSession, name: str, credential: str, token: str) -> tuple[Passkey, list[str]]:
    """The browser's attestation for the challenge of `token`: a new passkey. The account's other sessions end
    (users.authentication_factor_changed). Returns the passkey, and new recovery codes if it had none left."""
    second_factors.require_recent_sign_in(login_session)
    user = login_session.user
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise ValidationError(f"give the passkey a name of 1 to {MAX_NAME_CHARS} characters", field="name")
    with transaction():
        try:
            verified = _verified_registration(user, credential, token)
        except PasskeyRefused as refused:
            refused.audit()  # committed with the challenge's use: a refused answer does not get a second try
            failure = refused
        else:
            return _registered(login_session, name, credential, verified)
    raise failure


def _verified_registration(user: User, credential: str, token: str) -> Any:
    challenge = _challenge(token, user=user, kind=REGISTER)
    try:
        verified = verify_registration_response(
            credential=_bounded(credential), expected_challenge=challenge, expected_rp_id=rp_id(),
            expected_origin=origin(), supported_pub_key_algs=ALGORITHMS)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused("passkey.registration_refused", user, str(exc)) from None
    if db.session.scalar(select(Passkey.id).where(
            Passkey.credential_id == bytes_to_base64url(verified.credential_id))) is not None:
        raise PasskeyRefused("passkey.registration_refused", user, "credential already registered")
    return verified


def _registered(login_session: LoginSession, name: str, credential: str, verified: Any) -> tuple[Passkey, list[str]]:
    user = login_session.user
    with transaction():
        credential_id = bytes_to_base64url(verified.credential_id)
        passkey = Passkey(
            user_id=user.id, credential_id=credential_id, public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count, name=name, device_type=verified.credential_device_type.value,
            backed_up=verified.credential_backed_up, transports=" ".join(_transports(credential)),
            user_verified=verified.user_verified, created_at=now(),
        )
        db.session.add(passkey)
        db.session.flush()
        audit.record("second_factor.enrolled", user_sub=user.sub, actor=user.sub, method="passkey",
                     passkey_id=passkey.id, device_type=passkey.device_type)
        users.authentication_factor_changed(user, actor=user.sub, keep_session=login_session.id)
        codes = second_factors.recovery_codes_for_new_factor(user)
    return passkey, codes


def remove(login_session: LoginSession, passkey_id: int) -> str:
    """The account's passkey `passkey_id` is removed (audited); returns its name, read before the row is gone."""
    second_factors.require_recent_sign_in(login_session)
    user = login_session.user
    with transaction():
        found = db.session.scalar(select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id))
        if found is None:
            raise NotFoundError("there is no such passkey")
        name = found.name  # the row is gone once this commits, and so is what the session knew of it
        db.session.execute(delete(Passkey).where(Passkey.id == found.id).execution_options(synchronize_session=False))
        audit.record("second_factor.removed", user_sub=user.sub, actor=user.sub, method="passkey", passkey_id=found.id)
        second_factors.void_recovery_codes_without_factors(user)
        users.authentication_factor_changed(user, actor=user.sub, keep_session=login_session.id)
    return name


# --- assertions --------------------------------------------------------------------------------------------------

def second_factor_options(user: User) -> Ceremony:
    """After the password: any of the account's passkeys; user verification preferred (the password is one factor)."""
    options = generate_authentication_options(
        rp_id=rp_id(), timeout=TIMEOUT_MS, allow_credentials=[_descriptor(found) for found in passkeys_of(user)],
        user_verification=UserVerificationRequirement.PREFERRED)
    return _ceremony(options, user=user, kind=SECOND_FACTOR)


def passwordless_options() -> Ceremony:
    """From the sign-in page, nobody named yet: a discoverable credential that verifies the person."""
    options = generate_authentication_options(rp_id=rp_id(), timeout=TIMEOUT_MS,
                                              user_verification=UserVerificationRequirement.REQUIRED)
    return _ceremony(options, user=None, kind=PASSWORDLESS)


def assert_second_factor(user: User, credential: str, token: str) -> Asserted | None:
    """The assertion, by one of `user`'s passkeys, for the challenge of `token`; None (audited) if refused.
    Part of the caller's transaction."""
    return _audited(lambda: _assert(credential, _challenge(token, user=user, kind=SECOND_FACTOR), user=user,
                                    require_uv=False))


def assert_passwordless(credential: str, token: str) -> Asserted | None:
    """The person is whoever owns the asserted passkey, which must have verified them (UV); None (audited) if
    refused. Part of the caller's transaction."""
    return _audited(lambda: _assert(credential, _challenge(token, user=None, kind=PASSWORDLESS), user=None,
                                    require_uv=True))


def _audited(check: Callable[[], Asserted]) -> Asserted | None:
    try:
        return check()
    except PasskeyRefused as refused:
        refused.audit()
        return None


def _assert(credential: str, challenge: bytes, *, user: User | None, require_uv: bool) -> Asserted:
    found = _asserted_passkey(credential)
    if found is None or (user is not None and found.user_id != user.id):
        raise PasskeyRefused("passkey.assertion_refused", user, "unknown credential")
    owner = db.session.get(User, found.user_id)
    if owner is None or not owner.is_active:
        raise PasskeyRefused("passkey.assertion_refused", user, "account disabled")
    try:
        verified = verify_authentication_response(
            credential=_bounded(credential), expected_challenge=challenge, expected_rp_id=rp_id(),
            expected_origin=origin(), credential_public_key=base64url_to_bytes(found.public_key),
            credential_current_sign_count=found.sign_count, require_user_verification=require_uv)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        # WebAuthn §6.1.1: a counter that did not grow means two authenticators hold this credential.
        event = "passkey.clone_suspected" if "sign count" in str(exc) else "passkey.assertion_refused"
        raise PasskeyRefused(event, owner, str(exc)) from None
    moment = now()
    counted = rows_changed(
        update(Passkey).where(Passkey.id == found.id, Passkey.sign_count == found.sign_count)
        .values(sign_count=verified.new_sign_count, last_used_at=moment, user_verified=verified.user_verified,
                backed_up=verified.credential_backed_up)
        .execution_options(synchronize_session=False)
    ) == 1
    if not counted:
        raise PasskeyRefused("passkey.assertion_refused", owner, "concurrent use of one assertion")
    key = HARDWARE_KEY if verified.credential_device_type == CredentialDeviceType.SINGLE_DEVICE else SOFTWARE_KEY
    return Asserted(owner, (key, USER_PRESENCE), verified.user_verified)


def _asserted_passkey(credential: str) -> Passkey | None:
    try:
        parsed = json.loads(_bounded(credential))
        credential_id = parsed["rawId"] if isinstance(parsed, dict) else None
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(credential_id, str) or not CREDENTIAL_ID.fullmatch(credential_id):
        return None  # not even looked up: a lone surrogate, say, is no text the database can take
    return db.session.scalar(select(Passkey).where(Passkey.credential_id == credential_id))


# --- challenges --------------------------------------------------------------------------------------------------

def user_handle(user: User) -> bytes:
    """WebAuthn §5.4.3 user.id: the account's subject identifier (random, no personal data)."""
    return user.sub.encode()


def _ceremony(options: Any, *, user: User | None, kind: str) -> Ceremony:
    with transaction():
        issued = one_time_tokens.issue(CHALLENGE, user_id=user.id if user else None, ttl_seconds=CHALLENGE_TTL_SECONDS,
                                       data={"challenge": bytes_to_base64url(options.challenge), "kind": kind})
    return Ceremony(options=json.loads(options_to_json(options)), token=issued.token)


def _challenge(token: str, *, user: User | None, kind: str) -> bytes:
    """The challenge the token was issued for, consumed: a second use of it, or one for another account or
    ceremony, is refused."""
    redeemed = one_time_tokens.consume(CHALLENGE, token) if isinstance(token, str) else None
    if redeemed is None or redeemed.data is None or redeemed.data.get("kind") != kind \
            or redeemed.user_id != (user.id if user else None):
        raise PasskeyRefused("passkey.challenge_refused", user, "unknown, used or expired challenge")
    return base64url_to_bytes(redeemed.data["challenge"])


def _bounded(credential: str) -> str:
    if not isinstance(credential, str) or not credential or len(credential) > MAX_CREDENTIAL_CHARS:
        raise ValueError("the credential is missing or too long")
    return credential


def _descriptor(found: Passkey) -> PublicKeyCredentialDescriptor:
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(found.credential_id))


def _transports(credential: str) -> list[str]:
    try:
        listed = json.loads(credential)["response"].get("transports") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    return [str(item)[:16] for item in listed if isinstance(item, str)][:6]
