"""Signing keys are PEM files in keys/; the keyring loads them once and serves JWKS."""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import KeySet, RSAKey

RSA_KEY_BITS = 2048
SIGNING_ALG = "RS256"
SECRET_KEY_FILE = "flask-secret-key"


class KeyError_(Exception):
    """No usable signing key."""


def _write_private(path: Path, data: bytes) -> None:
    """Create the file with mode 0600 from the first byte: never readable by others."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def generate_signing_key(keys_dir: Path) -> Path:
    """Write a new RSA private key as keys/<created>-<kid>.pem and return its path."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kid = RSAKey.import_key(pem).thumbprint()
    path = keys_dir / f"{int(time.time())}-{kid}.pem"
    _write_private(path, pem)
    return path


def ensure_signing_key(keys_dir: Path) -> None:
    """Generate the first key unless one exists; a lock keeps concurrent workers from making two."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(keys_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not any(keys_dir.glob("*.pem")):
            generate_signing_key(keys_dir)


def ensure_secret_key(keys_dir: Path) -> str:
    """The Flask secret (signs the CSRF cookie) lives beside the signing keys when not configured."""
    path = keys_dir / SECRET_KEY_FILE
    if not path.exists():
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            _write_private(path, os.urandom(32).hex().encode())
        except FileExistsError:  # another worker won the race
            pass
    return path.read_text().strip()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: RSAKey


class KeyRing:
    """Keys loaded once per change of keys/, never per request."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir
        self._loaded: list[SigningKey] = []
        self.key_set = KeySet([])
        self.jwks_json = '{"keys": []}'
        self.reload()

    def reload(self) -> None:
        paths = sorted(self.keys_dir.glob("*.pem"))
        loaded = []
        for path in paths:
            pem = path.read_bytes()
            kid = RSAKey.import_key(pem).thumbprint()  # RFC 7638
            key = RSAKey.import_key(pem, {"use": "sig", "alg": SIGNING_ALG, "kid": kid})
            loaded.append(SigningKey(kid=kid, key=key))
        self._loaded = loaded
        self.key_set = KeySet([k.key for k in loaded])
        public = [k.key.as_dict(private=False) for k in loaded]
        self.jwks_json = json.dumps({"keys": public}, separators=(",", ":"))

    @property
    def current(self) -> SigningKey:
        """The newest key signs."""
        if not self._loaded:
            raise KeyError_(f"no signing key in {self.keys_dir}: run `ostiary init`")
        return self._loaded[-1]

    def find(self, kid: str) -> RSAKey | None:
        for signing_key in self._loaded:
            if signing_key.kid == kid:
                return signing_key.key
        return None
