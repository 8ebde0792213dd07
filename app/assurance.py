"""How strongly a person was authenticated: RFC 8176 amr values, and the acr values Ostiary derives from them
(OpenID Connect Core §2) and advertises (acr_values_supported). A leaf: imports nothing of ours."""

from __future__ import annotations

from collections.abc import Iterable

# RFC 8176 §2
PASSWORD = "pwd"
OTP = "otp"  # a TOTP code, or a single-use recovery code
HARDWARE_KEY = "hwk"  # a passkey bound to one device
SOFTWARE_KEY = "swk"  # a synced passkey
USER_PRESENCE = "user"
MULTIPLE_FACTORS = "mfa"

ACR_PASSWORD = "urn:ostiary:acr:pwd"
ACR_MFA = "urn:ostiary:acr:mfa"
ACR_PHISHING_RESISTANT = "urn:ostiary:acr:phr"
# Weakest first: a level satisfies every level before it.
ACR_VALUES = (ACR_PASSWORD, ACR_MFA, ACR_PHISHING_RESISTANT)
KEY_METHODS = frozenset({HARDWARE_KEY, SOFTWARE_KEY})


def acr_for(amr: Iterable[str]) -> str:
    """The level a sign-in by these methods reached: more than one factor is mfa; more than one factor with a
    passkey among them (origin-bound, so nothing a person types can be phished) is phishing-resistant."""
    methods = set(amr)
    if MULTIPLE_FACTORS not in methods:
        return ACR_PASSWORD
    return ACR_PHISHING_RESISTANT if methods & KEY_METHODS else ACR_MFA


def level(acr: str) -> int:
    return ACR_VALUES.index(acr)


def weakest_requested(acr_values: str | None) -> str | None:
    """OpenID Connect Core §3.1.2.1 acr_values: the weakest of the values we know (any of them will do), or None
    when none is requested or none is ours (the parameter is voluntary, so an unknown value is no error)."""
    known = [value for value in (acr_values or "").split() if value in ACR_VALUES]
    return min(known, key=level) if known else None


def satisfies(amr: Iterable[str], wanted: str | None) -> bool:
    return satisfies_level(acr_for(amr), wanted)


def satisfies_level(acr: str, wanted: str | None) -> bool:
    return wanted is None or level(acr) >= level(wanted)


def strongest(*wanted: str | None) -> str | None:
    """The strictest of several requirements (a relying party's, a policy's); None when none asks for a level."""
    known = [value for value in wanted if value is not None]
    return max(known, key=level) if known else None


def combined(first: Iterable[str], then: Iterable[str]) -> tuple[str, ...]:
    """RFC 8176 amr of a sign-in in two steps: each method once, in the order verified, and mfa last."""
    methods = dict.fromkeys(method for method in (*first, *then) if method != MULTIPLE_FACTORS)
    return (*methods, MULTIPLE_FACTORS)
