"""Secrets the server must read back (a TOTP seed), encrypted at rest: AES-256-GCM under a key derived (HKDF-SHA256)
from OSTIARY_DATA_KEY, or from the server's secret key without one. A copy of the database alone reveals nothing."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
NONCE_BYTES = 12  # NIST SP 800-38D §8.2: a random 96-bit nonce


class UndecryptableError(Exception):
    """The ciphertext was not made under this key and context (another key, another row, or tampered with)."""


def _key(master: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"ostiary data key\x00{purpose}".encode()).derive(master.encode())


def encrypt(plaintext: str, *, master: str, purpose: str, context: str) -> str:
    """`context` (e.g. the owner's id) is authenticated, so a ciphertext moved to another row does not decrypt."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(master, purpose)).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(ciphertext: str, *, master: str, purpose: str, context: str) -> str:
    version, _, body = ciphertext.partition(".")
    if version != VERSION:
        raise UndecryptableError("unknown ciphertext version")
    try:
        raw = base64.urlsafe_b64decode(body)
        return AESGCM(_key(master, purpose)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise UndecryptableError("the ciphertext does not decrypt under this key") from exc
