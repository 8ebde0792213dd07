"""A WebAuthn authenticator in software (W3C Web Authentication §6): an ES256 credential with "none" attestation,
answering the options the server sends as a browser's navigator.credentials would, in the JSON passkeys.js
posts. Every part of its answer can be made wrong on purpose: the origin, the relying party id, the challenge,
the user-verification flag, the signature counter, the signing key."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

# WebAuthn §6.1 flags of the authenticator data.
USER_PRESENT, USER_VERIFIED, ATTESTED_CREDENTIAL = 0x01, 0x04, 0x40
ES256 = -7  # RFC 9053 §2.1


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One credential, bound at registration to `origin` and its relying party id, as a platform passkey that
    verifies the person (set `user_verified` False for a key that only tests presence)."""

    origin: str
    rp_id: str
    user_verified: bool = True
    sign_count: int = 0
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    user_handle: bytes = b""

    def create(self, options: dict[str, Any], **wrong: Any) -> str:
        """navigator.credentials.create() for registration options: the credential as passkeys.js posts it."""
        self.user_handle = from_b64url(options["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose_key = cbor2.dumps({1: 2, 3: ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                                -3: numbers.y.to_bytes(32, "big")})
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + cose_key
        auth_data = self._authenticator_data(wrong.get("rp_id"), ATTESTED_CREDENTIAL, self.sign_count) + attested
        client_data = self._client_data("webauthn.create", options, wrong)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return self._credential({"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation),
                                 "transports": ["internal"]})

    def get(self, options: dict[str, Any], *, sign_count: int | None = None,
            key: ec.EllipticCurvePrivateKey | None = None, **wrong: Any) -> str:
        """navigator.credentials.get() for request options: an assertion whose counter goes up by one (or is
        `sign_count`), signed by this credential's key (or by `key`)."""
        self.sign_count = self.sign_count + 1 if sign_count is None else sign_count
        auth_data = self._authenticator_data(wrong.get("rp_id"), 0, self.sign_count)
        client_data = self._client_data("webauthn.get", options, wrong)
        signature = (key or self.key).sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return self._credential({"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                                 "signature": b64url(signature), "userHandle": b64url(self.user_handle)})

    def _authenticator_data(self, rp_id: str | None, flags: int, sign_count: int) -> bytes:
        flags |= USER_PRESENT | (USER_VERIFIED if self.user_verified else 0)
        return hashlib.sha256((rp_id or self.rp_id).encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)

    def _client_data(self, kind: str, options: dict[str, Any], wrong: dict[str, Any]) -> bytes:
        challenge = wrong.get("challenge") or options["challenge"]
        return json.dumps({"type": kind, "challenge": challenge, "origin": wrong.get("origin") or self.origin,
                           "crossOrigin": False}).encode()

    def _credential(self, response: dict[str, Any]) -> str:
        return json.dumps({"id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
                           "type": "public-key", "response": response, "authenticatorAttachment": "platform",
                           "clientExtensionResults": {}})
