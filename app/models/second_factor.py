"""Second factors of an account: an authenticator app's TOTP secret, recovery codes and WebAuthn passkeys."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.clock import now


class TotpSecret(Model):
    """RFC 6238: one authenticator app per account. The secret is kept encrypted (app/security/sealed.py)."""

    __tablename__ = "totp_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    # None until the person proves the app holds the secret with a first code; only then does it count.
    confirmed_at: Mapped[int | None] = mapped_column(Integer)
    # RFC 6238 §5.2: the time step of the last accepted code; a code of this step or an earlier one is refused.
    last_used_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(Integer, default=now)


class RecoveryCode(Model):
    """A single-use code for a person who lost their other factors; only its keyed digest is stored."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    used_at: Mapped[int | None] = mapped_column(Integer)


class Passkey(Model):
    """A WebAuthn credential (a passkey or a security key) registered to an account."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # base64url of the authenticator's credential id: what an assertion names, and what finds its account.
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[str] = mapped_column(Text)  # base64url COSE key
    # WebAuthn §6.1.1: the signature counter; an assertion whose counter does not grow means a cloned key.
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(64))
    # "single_device" (a hardware-bound key: amr hwk) or "multi_device" (a synced passkey: amr swk).
    device_type: Mapped[str] = mapped_column(String(16))
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    transports: Mapped[str] = mapped_column(String(100), default="")
    # Whether the authenticator verified the person (PIN, biometrics) at registration and at its last use.
    user_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    last_used_at: Mapped[int | None] = mapped_column(Integer)
