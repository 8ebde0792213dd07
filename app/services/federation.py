"""Federated sign-in: an upstream identity as another way into authentication's Identified state.

The linking and provisioning rules (README "Federation"), in one place:
- An upstream identity is keyed by (provider, upstream sub), never by email.
- A first sign-in whose email belongs to an existing account links to it only when the upstream asserts the
  email verified, the account's own email is verified (an unverified account never captures an identity: no
  pre-hijacking), and either the provider is authoritative for the email's domain or the person proves the
  account is theirs (its password, or a link mailed to it).
- Otherwise a new account is created just in time if the upstream asserts a verified email and sign-up allows
  it: never through a provider with --no-sign-up, always for a domain the provider is authoritative for, else
  as at the sign-up page (OSTIARY_SIGNUP open, to the email's domain); else the sign-in is refused with a reason
  the page explains.

begin() sends the browser upstream; complete() takes it back (one conditional UPDATE consumes the state, so a
replayed callback fails); each use case commits once.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.config import signup_policy
from app.errors import ConflictError, NotFoundError, ValidationError
from app.extensions import db
from app.models import FederatedIdentity, UpstreamProvider, User
from app.models.clock import now
from app.security.secrets import generate_secret, keyed_digest
from app.services import audit, authentication, one_time_tokens, outbox, providers, upstream, users
from app.services.authentication import FactorRequired, Identified, Refused, SignedIn
from app.services.transaction import transaction
from app.services.upstream import UpstreamError

STATE = "federation_state"
LINK = "federation_link"
FEDERATED = "fed"  # amr: not an RFC 8176 §2 value (none names federation); Microsoft Entra ID's, documented
PENDING, MAILED = "pending", "mailed"

# Why a federated sign-in was refused: the page explains each (app/web/federation.py).
UNKNOWN_PROVIDER = "unknown_provider"
INVALID_STATE = "invalid_state"  # unknown, used, expired, another browser's, or another provider's
UPSTREAM_DENIED = "upstream_denied"  # the upstream answered with an error (the person cancelled, or it refused)
UPSTREAM_FAILED = "upstream_failed"  # the upstream's answer failed a check (iss, ID token, user-info)
UPSTREAM_UNAVAILABLE = "upstream_unavailable"
NO_VERIFIED_EMAIL = "no_verified_email"
ACCOUNT_EXISTS = "account_exists"  # the email is an account's, and linking is not allowed (see the rules)
SIGN_UP_CLOSED = "sign_up_closed"
ACCOUNT_DISABLED = "account_disabled"
LINKED_ELSEWHERE = "linked_elsewhere"
MAX_TEXT = 255
Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class Declined:
    """No sign-in. `unavailable`: the upstream could not be used (temporarily_unavailable to a relying party)."""

    reason: str
    provider: str | None = None
    unavailable: bool = False


@dataclass(frozen=True)
class LinkRequired:
    """The upstream identity's verified email is an existing account's: the person proves the account is theirs.
    `token` is kept by this browser only (app/web/federation.py); `email` is the account's, to say where a
    confirmation would go."""

    token: str
    email: str
    provider: str


@dataclass(frozen=True)
class Linked:
    """An identity was linked to an account (from the account page, or by a confirmation)."""

    user: User
    provider: UpstreamProvider


@dataclass(frozen=True)
class UpstreamPerson:
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    groups: tuple[str, ...]


def enabled_providers() -> list[UpstreamProvider]:
    return providers.list_providers(enabled_only=True)


def enabled(name: str) -> bool:
    """An enabled provider of this name (an idp_hint a relying party sent)."""
    provider = providers.find_provider(name)
    return provider is not None and provider.enabled


def begin(name: str, *, binding: str, link_user: User | None = None,
          login_hint: str | None = None) -> str | Declined:
    """The upstream authorization URL for this browser (its binding secret): state is a one-time token, the
    nonce is random, the PKCE verifier is derived from the binding and never stored. Declined (audited) when
    the provider's discovery document cannot be used."""
    provider = _enabled(name)
    try:
        found = upstream.endpoints(provider)
    except UpstreamError as exc:
        return _declined(UPSTREAM_UNAVAILABLE if exc.unavailable else UPSTREAM_FAILED, provider, cause=exc.reason,
                         unavailable=exc.unavailable, detail=str(exc))
    nonce = generate_secret(16)
    with transaction():
        issued = one_time_tokens.issue(
            STATE, user_id=None, ttl_seconds=current_app.config["FEDERATION_STATE_TTL_SECONDS"],
            data={"provider": provider.name, "nonce": nonce, "binding": _bound(binding),
                  "link_user": link_user.id if link_user else None})
    return upstream.authorization_url(provider, found, state=issued.token, nonce=nonce,
                                      verifier=upstream.code_verifier(binding, issued.token), login_hint=login_hint)


def complete(name: str, params: dict[str, str], *, binding: str, signed_in_user: User | None, ip: str | None,
             user_agent: str | None,
             replacing: str | None) -> SignedIn | FactorRequired | LinkRequired | Linked | Declined:
    """The callback: state (this browser's, for this provider, once), RFC 9207 iss, the code exchange and the
    person's claims, then the rules above. Every refusal is audited; nothing half-created survives one."""
    provider = providers.find_provider(name)
    state = params.get("state", "")
    with transaction():
        redeemed = one_time_tokens.consume(STATE, state) if state else None
    data = redeemed.data if redeemed and redeemed.data else {}
    if provider is None or not provider.enabled or data.get("provider") != name or not _same_binding(
            data.get("binding"), binding):
        return _declined(INVALID_STATE, provider, cause="state")
    link_user_id = data.get("link_user")
    if link_user_id is not None and (signed_in_user is None or signed_in_user.id != link_user_id):
        return _declined(INVALID_STATE, provider, cause="link_session")
    try:
        found = upstream.endpoints(provider)
        upstream.check_issuer(provider, found, params.get("iss"))
        if "error" in params:
            error = params["error"][:64] if params["error"].isprintable() else "invalid"
            return _declined(UPSTREAM_DENIED, provider, cause=error,
                             unavailable=error in ("temporarily_unavailable", "server_error"))
        code = params.get("code", "")
        if not code or len(code) > 2048 or not code.isprintable():
            raise UpstreamError("code_missing")
        claims = upstream.exchange(provider, found, code=code, verifier=upstream.code_verifier(binding, state),
                                   nonce=data["nonce"])
        person = _person(provider, claims)
    except UpstreamError as exc:
        return _declined(UPSTREAM_UNAVAILABLE if exc.unavailable else UPSTREAM_FAILED, provider, cause=exc.reason,
                         unavailable=exc.unavailable, detail=str(exc))
    if link_user_id is not None:
        assert signed_in_user is not None
        return _decided(lambda: _link_from_account(provider, person, signed_in_user))
    return _decided(lambda: _sign_in(provider, person, binding=binding, ip=ip, user_agent=user_agent,
                                     replacing=replacing))


def _sign_in(provider: UpstreamProvider, person: UpstreamPerson, *, binding: str, ip: str | None,
             user_agent: str | None, replacing: str | None) -> SignedIn | FactorRequired | LinkRequired | Declined:
    with transaction():
        identity = _identity(provider, person.subject)
        if identity is not None:
            if not identity.user.is_active:
                return _declined(ACCOUNT_DISABLED, provider, user_sub=identity.user.sub)
            identity.last_used_at = now()
            identity.email = person.email
            return _start(identity.user, provider, ip=ip, user_agent=user_agent, replacing=replacing)
        if not person.email or not person.email_verified:
            # Never matched to an account by an email the upstream does not vouch for, nor given one.
            existing = _account_by_email(person.email) if person.email else None
            return _declined(ACCOUNT_EXISTS if existing else NO_VERIFIED_EMAIL, provider, cause="email_unverified",
                             user_sub=existing.sub if existing else None)
        existing = _account_by_email(person.email)
        if existing is not None:
            if not existing.email_verified or not existing.is_active:
                return _declined(ACCOUNT_EXISTS, provider, cause="account_unverified", user_sub=existing.sub)
            if person.email.rpartition("@")[2] in (provider.trusted_domains or []):
                _add_identity(existing, provider, person, how="trusted_domain")
                return _start(existing, provider, ip=ip, user_agent=user_agent, replacing=replacing)
            issued = one_time_tokens.issue(
                LINK, user_id=None, ttl_seconds=current_app.config["FEDERATION_LINK_TTL_SECONDS"],
                data={"kind": PENDING, "user": existing.id, **_identity_data(provider, person),
                      "binding": _bound(binding)})
            audit.record("federation.link_required", user_sub=existing.sub, provider=provider.name)
            assert existing.email is not None
            return LinkRequired(issued.token, existing.email, provider.display_name)
        refused = _sign_up_refused(provider, person.email)
        if refused:
            return _declined(SIGN_UP_CLOSED, provider, cause=refused)
        user = users.create_user(person.email, None, name=person.name, email_verified=True,
                                 roles=sorted({role for group, role in (provider.role_mapping or {}).items()
                                               if group in person.groups}),
                                 actor=f"federation:{provider.name}")
        _add_identity(user, provider, person, how="sign_up")
        return _start(user, provider, ip=ip, user_agent=user_agent, replacing=replacing)


def confirm_with_password(token: str, password: str, *, binding: str, ip: str | None, user_agent: str | None,
                          replacing: str | None) -> SignedIn | FactorRequired | Refused | Declined:
    """The person proves the existing account with its password (counted like a sign-in); the identity is linked
    and the session records both ways it was proven (amr pwd and fed)."""
    pending = one_time_tokens.peek(LINK, token)
    data = pending.data if pending and pending.data else {}
    if data.get("kind") != PENDING or not _same_binding(data.get("binding"), binding):
        return Declined(INVALID_STATE)
    account = db.session.get(User, data["user"])
    if account is None or account.email is None:
        return Declined(INVALID_STATE)

    def decide() -> SignedIn | FactorRequired | Refused | Declined:
        with transaction():
            outcome = authentication.verify_password(account.email or "", password, ip=ip)
            if isinstance(outcome, Refused):
                return outcome
            if outcome.user.id != account.id or one_time_tokens.consume(LINK, token) is None:
                return Declined(INVALID_STATE)
            provider = _linkable(data, account)
            identified = Identified(account, (authentication.PASSWORD, FEDERATED), now(), idp=provider.name)
            return authentication.proceed(identified, replacing=replacing, ip=ip, user_agent=user_agent)

    return _decided(decide)


def describe_pending(token: str) -> tuple[str, str] | None:
    """(provider display name, account email) of a pending link, for its page; None once it is no longer valid."""
    pending = one_time_tokens.peek(LINK, token)
    data = pending.data if pending and pending.data else {}
    account = db.session.get(User, data["user"]) if data.get("kind") == PENDING else None
    provider = providers.find_provider(data.get("provider", ""))
    if account is None or account.email is None or provider is None:
        return None
    return provider.display_name, account.email


def mail_confirmation(token: str, *, binding: str) -> str | None:
    """A link to the existing account's mailbox confirms the linking there; returns the address, None if the
    pending link is not this browser's (or no longer valid)."""
    pending = one_time_tokens.peek(LINK, token)
    data = pending.data if pending and pending.data else {}
    if data.get("kind") != PENDING or not _same_binding(data.get("binding"), binding):
        return None
    account = db.session.get(User, data["user"])
    if account is None or account.email is None:
        return None
    with transaction():
        mailed = one_time_tokens.issue(
            LINK, user_id=account.id, ttl_seconds=current_app.config["FEDERATION_LINK_TTL_SECONDS"],
            data={"kind": MAILED, "provider": data["provider"], "subject": data["subject"], "email": data["email"]})
        provider = providers.find_provider(data["provider"])
        outbox.enqueue(account.email, "federation_link", {
            "link": outbox.issuer_link("/federation/link/confirm", token=mailed.token),
            "provider": provider.display_name if provider else data["provider"],
            "upstream_email": data["email"], "valid_for": current_app.config["FEDERATION_LINK_TTL_SECONDS"],
        }, user_sub=account.sub)
        audit.record("federation.link_mailed", user_sub=account.sub, provider=data["provider"])
    return account.email


def peek_mailed(token: str) -> tuple[User, UpstreamProvider, str] | None:
    """What a mailed link would link (for the confirmation page's GET, which never consumes)."""
    found = one_time_tokens.peek(LINK, token)
    data = found.data if found and found.data else {}
    account = db.session.get(User, found.user_id) if found and found.user_id else None
    provider = providers.find_provider(data.get("provider", ""))
    if data.get("kind") != MAILED or account is None or provider is None:
        return None
    return account, provider, data.get("email") or ""


def confirm_mailed(token: str) -> Linked | Declined:
    """The confirmation's POST: proof of the mailbox links the identity; the person then signs in through it."""
    def decide() -> Linked | Declined:
        with transaction():
            used = one_time_tokens.consume(LINK, token)
            data = used.data if used and used.data else {}
            account = db.session.get(User, used.user_id) if used and used.user_id else None
            if data.get("kind") != MAILED or account is None:
                return Declined(INVALID_STATE)
            return Linked(account, _linkable(data, account))

    return _decided(decide)


def identities_of(user: User) -> list[FederatedIdentity]:
    return list(db.session.scalars(
        select(FederatedIdentity).where(FederatedIdentity.user_id == user.id).order_by(FederatedIdentity.id)))


def unlink(user: User, identity_id: int) -> FederatedIdentity:
    """Remove one of the person's linked identities; never the last way in (an account without a password keeps
    one identity)."""
    with transaction():
        # Two unlinks at once must not both count the other's identity: they take turns on the account's row.
        db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
        identity = db.session.scalar(select(FederatedIdentity).where(
            FederatedIdentity.id == identity_id, FederatedIdentity.user_id == user.id))
        if identity is None:
            raise NotFoundError("there is no such linked sign-in")
        count = db.session.scalar(select(func.count()).select_from(FederatedIdentity).where(
            FederatedIdentity.user_id == user.id)) or 0
        if user.password_hash is None and count <= 1:
            raise ConflictError("this is your only way to sign in: set a password or link another first")
        audit.record("federation.unlinked", user_sub=user.sub, actor=user.sub, provider=identity.provider.name)
        db.session.delete(identity)
    return identity


class _NotLinkable(Exception):
    def __init__(self, declined: Declined) -> None:
        super().__init__(declined.reason)
        self.declined = declined


class _IdentityTaken(Exception):
    """A concurrent request (another tab, a double submit) linked the identity after we looked; it has committed,
    and our transaction is rolled back."""


def _decided(decide: Callable[[], Outcome]) -> Outcome | Declined:
    """A decision that links an identity, in its own transaction; made again if another request linked the same
    identity first, so that it sees the link (the unique (provider, sub) decides, never a server error)."""
    for _ in range(2):
        try:
            return decide()
        except _NotLinkable as refused:
            return refused.declined
        except _IdentityTaken:
            continue
    return Declined(LINKED_ELSEWHERE)


def _linkable(data: dict[str, Any], account: User) -> UpstreamProvider:
    """Link the identity a pending or mailed token describes, unless it was linked meanwhile (raises _NotLinkable)."""
    provider = providers.find_provider(data.get("provider", ""))
    if provider is None or not provider.enabled or not account.is_active:
        raise _NotLinkable(Declined(INVALID_STATE))
    person = UpstreamPerson(data["subject"], data.get("email"), True, None, ())
    existing = _identity(provider, person.subject)
    if existing is not None and existing.user_id != account.id:
        raise _NotLinkable(Declined(LINKED_ELSEWHERE, provider.display_name))
    if existing is None:
        _add_identity(account, provider, person, how="confirmed")
    return provider


def _link_from_account(provider: UpstreamProvider, person: UpstreamPerson, user: User) -> Linked | Declined:
    """A signed-in person links another identity (the account page asked for a recent sign-in first)."""
    with transaction():
        existing = _identity(provider, person.subject)
        if existing is not None and existing.user_id != user.id:
            return _declined(LINKED_ELSEWHERE, provider, user_sub=user.sub)
        if existing is None:
            _add_identity(user, provider, person, how="account_page")
    return Linked(user, provider)


def _sign_up_refused(provider: UpstreamProvider, email: str) -> str | None:
    """Why no account may be made just in time, or None: never with --no-sign-up; for a domain the provider is
    authoritative for, always; otherwise as at the sign-up page (OSTIARY_SIGNUP open, within its domains)."""
    domain = email.rpartition("@")[2]
    if not provider.allow_sign_up:
        return "provider"
    if domain in (provider.trusted_domains or []):
        return None
    allowed = current_app.config["SIGNUP_ALLOWED_DOMAINS"]
    if signup_policy(current_app.config) != "open" or (allowed and domain not in allowed):
        return "sign_up_policy"
    return None


def _start(user: User, provider: UpstreamProvider, *, ip: str | None, user_agent: str | None,
           replacing: str | None) -> SignedIn | FactorRequired:
    # auth_time is now: this server authenticated the person now, by the upstream's fresh assertion. An account
    # with a second factor is asked for it, as after a password.
    identified = Identified(user, (FEDERATED,), now(), idp=provider.name)
    return authentication.proceed(identified, replacing=replacing, ip=ip, user_agent=user_agent)


def _identity(provider: UpstreamProvider, subject: str) -> FederatedIdentity | None:
    return db.session.scalar(select(FederatedIdentity).where(
        FederatedIdentity.provider_id == provider.id, FederatedIdentity.subject == subject))


def _add_identity(user: User, provider: UpstreamProvider, person: UpstreamPerson, *, how: str) -> None:
    db.session.add(FederatedIdentity(user_id=user.id, provider_id=provider.id, subject=person.subject,
                                     email=person.email, last_used_at=now()))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise _IdentityTaken from None
    audit.record("federation.linked", user_sub=user.sub, provider=provider.name, how=how)


def _identity_data(provider: UpstreamProvider, person: UpstreamPerson) -> dict[str, Any]:
    return {"provider": provider.name, "subject": person.subject, "email": person.email}


def _account_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email, User.is_service_account.is_(False)))


def _person(provider: UpstreamProvider, claims: dict[str, Any]) -> UpstreamPerson:
    """Our claims from the upstream's, through the provider's claim mapping; a missing or malformed sub refuses."""
    subject = provider.mapped(claims, "sub")
    if isinstance(subject, int) and not isinstance(subject, bool):
        subject = str(subject)  # GitHub's numeric id
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_TEXT or not subject.isprintable():
        raise UpstreamError("sub_missing")
    email = provider.mapped(claims, "email")
    try:
        email = users.normalize_email(email) if isinstance(email, str) and len(email) <= 320 else None
    except ValidationError:
        email = None
    verified = provider.mapped(claims, "email_verified")
    name = provider.mapped(claims, "name")
    name = name[:200] if isinstance(name, str) and name.isprintable() and name.strip() else None
    groups = provider.mapped(claims, "groups")
    # Only a JSON true vouches for the email (OpenID Connect Core §5.1: a boolean); "true" is a provider's bug.
    return UpstreamPerson(subject, email, verified is True, name,
                          tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else ())


def _enabled(name: str) -> UpstreamProvider:
    provider = providers.find_provider(name)
    if provider is None or not provider.enabled:
        raise NotFoundError("there is no such provider")
    return provider


def _bound(binding: str) -> str:
    return keyed_digest(f"federation-binding\x00{binding}", current_app.config["SECRET_KEY"])


def _same_binding(stored: Any, binding: str) -> bool:
    return isinstance(stored, str) and bool(binding) and hmac.compare_digest(stored, _bound(binding))


def _declined(reason: str, provider: UpstreamProvider | None, *, cause: str | None = None, unavailable: bool = False,
              user_sub: str | None = None, detail: str | None = None) -> Declined:
    """Audited: the reason, and for an upstream failure what failed (never a token or a secret)."""
    with transaction():
        audit.record("federation.sign_in", outcome="failure", user_sub=user_sub,
                     provider=provider.name if provider else None, reason=reason, cause=cause, detail=detail)
    return Declined(reason, provider.display_name if provider else None, unavailable)

