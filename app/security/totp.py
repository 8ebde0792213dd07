"""RFC 6238 time-based one-time passwords (30-second steps, 6 digits, SHA-1: what every authenticator app reads),
and the QR code that carries the otpauth:// URI to the app, drawn as SVG on the server."""

from __future__ import annotations

import hmac
import io
import re
import time

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
# RFC 6238 §5.2: at most one step of clock drift either way.
DRIFT_STEPS = 1
CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """160 random bits in base32, the length RFC 4226 §4 recommends."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """An inline SVG (no XML declaration, no script) of the URI, for an authenticator app's camera."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True,
                                    title="QR code", dark="#000", light="#fff")
    return out.getvalue().decode()


def current_step(moment: float | None = None) -> int:
    return int((time.time() if moment is None else moment) // STEP_SECONDS)


def normalize(code: str) -> str | None:
    """The six digits a person typed (spaces allowed, as apps show "123 456"), or None if it cannot be a code."""
    if not isinstance(code, str) or len(code) > 20:
        return None
    compact = code.replace(" ", "").replace("\u00a0", "")
    return compact if CODE.fullmatch(compact) else None


def matching_step(secret: str, code: str, *, after: int | None, moment: float | None = None) -> int | None:
    """The time step within the drift window whose code this is and that is later than `after` (the last step
    accepted), or None. Every candidate is compared, in constant time, so timing tells nothing of which matched."""
    digits = normalize(code)
    if digits is None:
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now_step = current_step(moment)
    found = None
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected, digits) and (after is None or step > after) and found is None:
            found = step
    return found
