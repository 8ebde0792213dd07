"""Signing in, a small state machine owned by this module: credentials -> Identified -> SignedIn.

verify_password() turns a login and password into an Identified person (who, by which RFC 8176 methods, and
when the factor was verified) or a Refused attempt, under the sign-in limits; start_session() turns an Identified
person into a SignedIn browser; sign_in() is both in one transaction. A second factor is a step between the two:
sign_in() answers "factor required" (the Identified person held server-side, briefly, bound to the browser)
instead of starting the session, and the factor, once verified, adds its method to amr and its time as auth_time
before start_session(). A federated sign-in is another way into Identified. Neither changes start_session(),
nor how the views turn SignedIn into a cookie and Refused into a page. A step-up enters at "factor required"
too: a signed-in session below the level a relying party or a policy asks for is held as the first step, and
only the missing factor is asked for (step_up_target, step_up). Signing out, and proving the password again to
a signed-in session, live here too: counted, audited and committed the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from flask import current_app

from app import assurance, metrics
from app.errors import ValidationError, WrongPasswordError
from app.extensions import db
from app.models import Client, LoginSession, User
from app.models.clock import now
from app.security.passwords import passwords
from app.security.throttle import Attempt, Throttled, sign_in_counters, throttle
from app.services import audit, passkeys, pending_sign_ins, second_factors, sessions, users
from app.services.second_factors import Factors
from app.services.transaction import transaction

# Why an attempt was refused. One reason for an unknown login, a wrong password and a disabled account alike:
# no hint whether the account exists.
INVALID_CREDENTIALS = "invalid_credentials"
THROTTLED = "throttled"
# The password is right, but the self-service registration's address is not confirmed yet (app/services/signup.py).
EMAIL_UNCONFIRMED = "email_unconfirmed"
# The half-signed-in state is gone (expired, used, replaced by a newer sign-in): start again with the password.
EXPIRED = "expired"
PASSWORD = assurance.PASSWORD  # RFC 8176 §2
# The second factors a person may offer after the password.
TOTP, RECOVERY_CODE, PASSKEY = "totp", "recovery_code", "passkey"


@dataclass(frozen=True)
class Identified:
    """Credentials verified: the person, the methods that proved it (RFC 8176 amr values) and the time of the
    last factor (OpenID Connect Core §2 auth_time). No session exists yet."""

    user: User
    amr: tuple[str, ...]
    auth_time: int
    idp: str | None = None  # the upstream provider of a federated sign-in (app/services/federation.py)


@dataclass(frozen=True)
class Refused:
    """No sign-in. `retry_after_seconds` is set when the sign-in limits refused the attempt unchecked."""

    reason: str
    retry_after_seconds: int = 0


@dataclass(frozen=True)
class FactorRequired:
    """The password was right and the account has a second factor: no session yet. `token` is the browser's claim
    to this half-signed-in state (see app/services/pending_sign_ins.py), to send back with the factor."""

    user: User
    token: str


@dataclass(frozen=True)
class SignedIn:
    """A session exists. `session_token` is the browser's cookie value: only its digest is stored."""

    user: User
    session_token: str
    # A policy (OSTIARY_REQUIRE_MFA) wants a second factor the person has not set up: ask them to, now.
    must_enrol: bool = False


def sign_in(login: str, password: str, *, ip: str | None, user_agent: str | None,
            replacing: str | None) -> SignedIn | FactorRequired | Refused:
    """A password sign-in from the sign-in form: verify_password, then start_session, in one transaction; for an
    account with a second factor, FactorRequired instead of the session (verify_second_factor goes on)."""
    with transaction():
        outcome = verify_password(login, password, ip=ip)
        if isinstance(outcome, Refused):
            return outcome
        if outcome.user.registration_pending:
            return Refused(EMAIL_UNCONFIRMED)
        return proceed(outcome, replacing=replacing, ip=ip, user_agent=user_agent)


def proceed(identified: Identified, *, replacing: str | None, ip: str | None,
            user_agent: str | None) -> SignedIn | FactorRequired:
    """Identified -> SignedIn, or FactorRequired when the account has a second factor: every first step (a
    password, an upstream provider's assertion) goes through here, so none of them skips the second."""
    user = identified.user
    if second_factors.factors_of(user).any:
        return FactorRequired(user, pending_sign_ins.hold(user, identified.amr, idp=identified.idp))
    signed_in = start_session(identified, replacing=replacing, ip=ip, user_agent=user_agent)
    return replace(signed_in, must_enrol=second_factors.must_enrol(user))


def step_up_target(login_session: LoginSession, requested: str | None, client: Client | None, *,
                   essential: bool = False) -> str | None:
    """The level a second factor should raise this session to, or None: when it already reaches both what the
    relying party asked for (`requested`) and what policy demands (require_mfa, OSTIARY_REQUIRE_MFA), or when
    none of the person's factors would raise it (for an `essential` request: would raise it far enough). The
    caller decides what a shortfall then means."""
    amr = login_session.amr.split()
    wanted = assurance.strongest(requested, second_factors.required_acr(login_session.user, client))
    if assurance.satisfies(amr, wanted) or wanted is None:
        return None
    reachable = second_factors.factors_of(login_session.user).strongest_acr
    if essential and not assurance.satisfies_level(reachable, requested):
        return None  # no use asking for a factor when the request fails anyway
    target = min(wanted, reachable, key=assurance.level)
    return target if assurance.level(target) > assurance.level(assurance.acr_for(amr)) else None


def step_up(login_session: LoginSession, acr: str) -> FactorRequired:
    """A signed-in session -> FactorRequired: its sign-in is held as the first step (no password again), and the
    second step asks only for a factor that reaches `acr` (step_up_target); verify_second_factor then replaces
    the session with one that records both. One transaction."""
    with transaction():
        token = pending_sign_ins.hold(login_session.user, tuple(login_session.amr.split()), idp=login_session.idp,
                                      session_id=login_session.id, acr=acr)
    return FactorRequired(login_session.user, token)


def factors_offered(held: pending_sign_ins.Held) -> Factors:
    """The factors the second step offers: a step-up to phishing-resistant takes a passkey and nothing else."""
    found = second_factors.factors_of(held.user)
    if held.acr == assurance.ACR_PHISHING_RESISTANT:
        return replace(found, totp=False, recovery_codes_left=0)
    return found


def verify_second_factor(token: str | None, method: str, response: str, *, challenge: str = "", ip: str | None,
                         user_agent: str | None, replacing: str | None) -> SignedIn | Refused:
    """FactorRequired -> SignedIn: a TOTP code, a recovery code or a passkey assertion (for the WebAuthn
    `challenge` token) from the browser holding `token`. Counted and audited like a password; the factor adds
    its methods to amr, and its time is auth_time. A step-up's new session replaces the one it upgrades, which
    must still be this browser's (`replacing`); until then that one stays as it was. One transaction."""
    held = pending_sign_ins.find(token)
    if held is None or token is None or not _upgrades_this_session(held, replacing):
        return Refused(EXPIRED)
    try:
        attempt = throttle().attempt(sign_in_counters("", ip, sub=held.user.sub))
    except Throttled as refused:
        return Refused(THROTTLED, refused.retry_after_seconds)
    with attempt, transaction():
        # Claimed first: a concurrent request with the same browser state waits, and spends no recovery code.
        if not pending_sign_ins.claim(token):
            return Refused(EXPIRED)
        methods = _second_factor(held.user, method, response, challenge) if _offered(held, method) else None
        if methods is None:
            pending_sign_ins.give_back(token)
            _failed(attempt, "sign_in.second_factor", held.user.sub, method=method[:20])
            return Refused(INVALID_CREDENTIALS)
        if held.session_id is not None:
            audit.record("sign_in.step_up", user_sub=held.user.sub, acr=held.acr)
        return start_session(Identified(held.user, assurance.combined(held.amr, methods), now(), idp=held.idp),
                             replacing=replacing, ip=ip, user_agent=user_agent)


def sign_in_with_passkey(credential: str, challenge: str, *, ip: str | None, user_agent: str | None,
                         replacing: str | None) -> SignedIn | Refused:
    """Passwordless: a discoverable passkey that verified the person (PIN or biometrics on the device) is two
    factors at once, so no further step follows. Refusals count against the address like wrong passwords."""
    try:
        attempt = throttle().attempt(sign_in_counters("", ip, sub=None))
    except Throttled as refused:
        return Refused(THROTTLED, refused.retry_after_seconds)
    with attempt, transaction():
        asserted = passkeys.assert_passwordless(credential, challenge)
        if asserted is None:
            _failed(attempt, "sign_in.passkey", None)
            return Refused(INVALID_CREDENTIALS)
        identified = Identified(asserted.user, (*asserted.amr, assurance.MULTIPLE_FACTORS), now())
        return start_session(identified, replacing=replacing, ip=ip, user_agent=user_agent)


def _upgrades_this_session(held: pending_sign_ins.Held, presented: str | None) -> bool:
    """A step-up goes on only in the browser whose session it upgrades, while that session is live."""
    if held.session_id is None:
        return True
    current = sessions.load(presented)
    return current is not None and current.id == held.session_id and current.user_id == held.user.id


def _offered(held: pending_sign_ins.Held, method: str) -> bool:
    return method == PASSKEY or held.acr != assurance.ACR_PHISHING_RESISTANT


def _second_factor(user: User, method: str, response: str, challenge: str) -> tuple[str, ...] | None:
    """The RFC 8176 methods the factor proved, or None if it did not."""
    if method == TOTP and second_factors.verify_totp(user, response):
        return (assurance.OTP,)
    if method == RECOVERY_CODE and second_factors.use_recovery_code(user, response):
        return (assurance.OTP,)
    if method == PASSKEY:
        asserted = passkeys.assert_second_factor(user, response, challenge)
        return asserted.amr if asserted else None
    return None


def verify_password(login: str, password: str, *, ip: str | None) -> Identified | Refused:
    """OWASP ASVS V2.2.1: counted per account and per address before the password is checked; a failure keeps
    its count and is audited (with the lockout it may start), a success gives it back. The account is looked up
    whether or not it exists, and an unknown one costs an argon2 verify too, so neither answer nor timing tells.
    A hash made with old argon2 costs is replaced."""
    account = users.find_by_login(login)
    try:
        attempt = throttle().attempt(sign_in_counters(login, ip, sub=account.sub if account else None))
    except Throttled as refused:
        return Refused(THROTTLED, refused.retry_after_seconds)
    with attempt, transaction():
        user = _verified(account, password)
        if user is None:
            metrics.sign_in_failed()
            # Who was targeted, if the account exists; the typed login is not kept (it may be a mistyped password).
            _failed(attempt, "sign_in", account.sub if account else None)
            return Refused(INVALID_CREDENTIALS)
        return Identified(user, (PASSWORD,), now())


def start_session(identified: Identified, *, replacing: str | None, ip: str | None,
                  user_agent: str | None) -> SignedIn:
    """Identified -> SignedIn: the browser's previous session ends (a new sign-in never keeps an old session id
    alive, so a planted one is worthless), a new one records how and when the person was identified, and the
    sign-in is audited; one transaction."""
    with transaction():
        audit.record("sign_in", user_sub=identified.user.sub)
        sessions.end(replacing)
        token = sessions.start(identified.user, amr=" ".join(identified.amr), auth_time=identified.auth_time,
                               ip=ip, user_agent=user_agent, idp=identified.idp)
    return SignedIn(identified.user, token)


def sign_out(login_session: LoginSession | None, *, client_id: str | None = None) -> None:
    """The browser's session ends on the server, audited (with the relying party that asked, for OpenID Connect
    RP-Initiated Logout); one transaction. A browser without a live session has nothing to end."""
    if login_session is None:
        return
    with transaction():
        audit.record("sign_out", user_sub=login_session.user.sub, client_id=client_id)
        sessions.end_session(login_session.user, login_session.id)


def authenticated_recently(login_session: LoginSession) -> bool:
    """OpenID Connect Core §2 auth_time within OSTIARY_REAUTHENTICATE_SECONDS: recent enough for a sensitive action."""
    return now() - login_session.auth_time < current_app.config["REAUTHENTICATE_SECONDS"]


def confirm_recent_sign_in(login_session: LoginSession, password: str, *, ip: str | None, purpose: str) -> None:
    """Before a sensitive action: a sign-in within OSTIARY_REAUTHENTICATE_SECONDS, or the password again."""
    if not authenticated_recently(login_session):
        reauthenticate(login_session, password, ip=ip, purpose=purpose)


def reauthenticate(login_session: LoginSession, password: str, *, ip: str | None, purpose: str) -> None:
    """The person proves their password again, counted like a sign-in (see _counted_as_sign_in); the session's
    auth_time is then now. A use case of its own: a failure is audited after its transaction is rolled back."""
    user = login_session.user
    with _counted_as_sign_in(user, ip, purpose), transaction():
        if not password:
            raise ValidationError("enter your password to continue", field="password")
        if not passwords().verify(user.password_hash, password):
            raise WrongPasswordError("the password is not correct", field="password")
        login_session.auth_time = now()


def change_password(login_session: LoginSession, current: str, new: str, *, ip: str | None,
                    revoke_api_keys: bool = False) -> int:
    """The person changes their own password, proving the current one first (counted like a sign-in); this session
    stays signed in, and everything else the old password let anyone obtain is taken back
    (users.authentication_factor_changed). Returns the API keys revoked."""
    user = login_session.user
    with _counted_as_sign_in(user, ip, "password_change"):
        if not passwords().verify(user.password_hash, current):
            raise WrongPasswordError("the current password is not correct", field="current_password")
    if new == current:
        raise ValidationError("the new password must differ from the current one", field="new_password")
    try:
        users.validate_password(new)
    except ValidationError as exc:
        raise ValidationError(exc.description, field="new_password") from None
    password_hash = passwords().hash(new)
    with transaction():
        user.password_hash = password_hash
        revoked_keys = users.authentication_factor_changed(user, actor=user.sub, keep_session=login_session.id,
                                                           revoke_api_keys=revoke_api_keys)
        audit.record("user.password_changed", user_sub=user.sub, actor=user.sub, api_keys_revoked=revoked_keys)
    return revoked_keys


def _verified(account: User | None, password: str) -> User | None:
    """The account if the password is its own: argon2 against its hash, or against a dummy one for an unknown or
    disabled account. A hash made with other argon2 costs than the configured ones is replaced."""
    stored = account.password_hash if account is not None and account.is_active else None
    # verify() first, always: without a stored hash it checks a dummy one, so every answer costs one argon2.
    if not passwords().verify(stored, password) or account is None or stored is None:
        return None
    if passwords().needs_rehash(stored):
        account.password_hash = passwords().hash(password)
        db.session.flush()
    return account


@contextmanager
def _counted_as_sign_in(user: User, ip: str | None, purpose: str) -> Iterator[None]:
    """A signed-in person re-enters their password: the sign-in limits of their account and address apply (raises
    Throttled before any check), and a WrongPasswordError inside is a failed attempt, audited as reauthentication
    with its purpose. A stolen session cookie is no way round the limits."""
    attempt = throttle().attempt(sign_in_counters("", ip, sub=user.sub))
    with attempt:
        try:
            yield
        except WrongPasswordError:
            _failed(attempt, "reauthentication", user.sub, purpose=purpose)
            raise


def _failed(attempt: Attempt, event: str, user_sub: str | None, **details: Any) -> None:
    """A wrong password keeps its slots; it is audited, and so is the lockout it may start."""
    exhausted = attempt.fail()
    with transaction():
        audit.record(event, outcome="failure", user_sub=user_sub, **details)
        if exhausted:
            audit.record("sign_in.locked_out", outcome="failure", user_sub=user_sub, counters=exhausted)

