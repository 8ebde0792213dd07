"""Secrets the server must read back (an upstream provider's client secret, a TOTP seed), encrypted at rest.

    sealed = seal("federation.client_secret", b"...")     # "v1.<kid>.<base64url(nonce || ciphertext)>"
    plain = unseal("federation.client_secret", sealed)    # Unreadable if the key, purpose or text differ

AES-256-GCM (NIST SP 800-38D) under a key derived with HKDF-SHA256 (RFC 5869) from OSTIARY_DATA_KEY, or from the
server's secret key when that is unset. The purpose is the associated data: a value sealed for one purpose never
opens for another, so a column copied into another cannot be read there. Values sealed under a retired data key
still open when that key is listed in OSTIARY_DATA_KEYS_RETIRED; the kid says which key sealed a value.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

VERSION = "v1"
EXTENSION = "ostiary.sealer"
_NONCE_BYTES = 12  # SP 800-38D §8.2.2: random 96-bit nonces, well under 2^32 seals per key
_INFO = b"ostiary sealed v1"
MAX_PURPOSE_LENGTH = 64


class Unreadable(Exception):
    """A sealed value that this server cannot open: another key, another purpose, or altered text."""


def _derive(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode("utf-8"))


def _kid(key: bytes) -> str:
    # Names the key without revealing it: a digest of the derived key, never of the secret it came from.
    return hashlib.sha256(b"ostiary sealed kid\x00" + key).hexdigest()[:8]


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """Seals with the current key; opens with the current key or any retired one."""

    def __init__(self, current_secret: str, retired_secrets: Iterable[str] = ()) -> None:
        self._current = _derive(current_secret)
        self.kid = _kid(self._current)
        self._keys = {self.kid: self._current}
        for secret in retired_secrets:
            key = _derive(secret)
            self._keys.setdefault(_kid(key), key)

    def seal(self, purpose: str, plaintext: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = AESGCM(self._current).encrypt(nonce, plaintext, _associated(purpose))
        return f"{VERSION}.{self.kid}.{_encode(nonce + ciphertext)}"

    def unseal(self, purpose: str, sealed: str) -> bytes:
        version, _, rest = sealed.partition(".")
        kid, _, body = rest.partition(".")
        key = self._keys.get(kid)
        if version != VERSION or key is None:
            raise Unreadable("sealed under an unknown key or format")
        try:
            data = _decode(body)
            return AESGCM(key).decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], _associated(purpose))
        except (InvalidTag, ValueError):
            raise Unreadable("the sealed value does not open under this key and purpose") from None

    def is_current(self, sealed: str) -> bool:
        """Sealed under the current key (a value under a retired key should be sealed again)."""
        return sealed.split(".", 2)[1:2] == [self.kid]


def _associated(purpose: str) -> bytes:
    if not purpose or len(purpose) > MAX_PURPOSE_LENGTH or not purpose.isascii():
        raise ValueError("a purpose is 1 to 64 ASCII characters")
    return f"ostiary:{purpose}".encode("ascii")


def sealer() -> Sealer:
    return current_app.extensions[EXTENSION]


def seal(purpose: str, plaintext: bytes) -> str:
    return sealer().seal(purpose, plaintext)


def unseal(purpose: str, sealed: str) -> bytes:
    return sealer().unseal(purpose, sealed)
