"""Signing keys are PEM files in keys/ named <activates>-<kid>.pem; the name alone fixes each key's schedule."""

from __future__ import annotations

import fcntl
import math
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

RSA_KEY_BITS = 2048
SIGNING_ALG = "RS256"
SECRET_KEY_FILE = "flask-secret-key"
# kid is an RFC 7638 SHA-256 thumbprint: 43 base64url characters.
KEY_FILE_NAME = re.compile(r"(?P<activates>[0-9]{1,12})-(?P<kid>[A-Za-z0-9_-]{43})\.pem")


class NoSigningKeyError(Exception):
    """No usable signing key."""


@dataclass(frozen=True, order=True)
class KeyFile:
    """A key file's schedule, read from its name: it signs from activates_at (Unix seconds) on."""

    activates_at: int
    kid: str

    @property
    def name(self) -> str:
        return f"{self.activates_at}-{self.kid}.pem"

    @classmethod
    def parse(cls, name: str) -> KeyFile | None:
        found = KEY_FILE_NAME.fullmatch(name)
        return cls(int(found["activates"]), found["kid"]) if found else None


def key_files(keys_dir: Path) -> list[KeyFile]:
    """The key files in keys/, oldest activation first; other files are ignored."""
    parsed = (KeyFile.parse(name) for name in os.listdir(keys_dir))
    return sorted(key for key in parsed if key is not None)


def _write_private(path: Path, data: bytes) -> None:
    """Mode 0600 from the first byte, and atomic: a reader sees no file or the whole file, never a partial one.

    The data goes to a temporary file that is then hard-linked to its name; unlike rename, link fails
    when the name exists, so of two concurrent writers exactly one wins (FileExistsError for the other).
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    finally:
        temporary.unlink()


def create_key_file(keys_dir: Path, activates_at: int) -> KeyFile:
    """Write a new RSA private key that signs from activates_at on."""
    private_directory(keys_dir)
    # A kid is the key's RFC 7638 thumbprint, base64url: one that began with "-" would read as an option on the
    # command line (`ostiary keys remove KID`), so such a key is drawn again, as client ids are (1 in 64).
    pem = _private_pem()
    while (kid := RSAKey.import_key(pem).thumbprint()).startswith("-"):
        pem = _private_pem()
    key = KeyFile(activates_at, kid)
    _write_private(keys_dir / key.name, pem)
    return key


def _private_pem() -> bytes:
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def generate_signing_key(keys_dir: Path, activates_at: int | None = None) -> Path:
    """A new key that signs from activates_at (default: now); returns its path."""
    key = create_key_file(keys_dir, int(time.time()) if activates_at is None else activates_at)
    return keys_dir / key.name


def private_directory(path: Path) -> None:
    """Create the directory for this user only; one that exists (a checkout's keys/ is 0755) is made so too."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(0o700)
        except PermissionError:
            pass  # not ours to change (a mounted volume): its owner decides who may list it


def create_private_file(path: Path) -> None:
    """An empty file only this user may read, unless the file exists (e.g. a SQLite database before its first use)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


@contextmanager
def keys_lock(keys_dir: Path) -> Iterator[None]:
    """Serialise key changes between processes on this host (concurrent workers, cron jobs)."""
    private_directory(keys_dir)
    with open(keys_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_signing_key(keys_dir: Path) -> None:
    """Generate the first key unless one exists; it signs at once, since there is nothing to hand over from."""
    if keys_dir.is_dir() and key_files(keys_dir):
        return  # the usual start: nothing is written, so keys/ may be a read-only volume
    with keys_lock(keys_dir):
        if not key_files(keys_dir):
            generate_signing_key(keys_dir)


def add_next_key(keys_dir: Path, publish_delay_seconds: int, now: float | None = None) -> KeyFile:
    """A key that is published now and signs once every JWKS cache has had time to fetch it."""
    clock = time.time() if now is None else now
    # Round up: truncating would let the key sign up to a second before the promised delay.
    return create_key_file(keys_dir, math.ceil(clock + publish_delay_seconds))


def remove_key_file(keys_dir: Path, key: KeyFile) -> None:
    """Delete a key file; a retired private key has no use left, so nothing is archived."""
    try:
        (keys_dir / key.name).unlink()
    except FileNotFoundError:
        pass  # another node pruned it first


def ensure_secret_key(keys_dir: Path) -> str:
    """The Flask secret (signs the CSRF cookie) lives beside the signing keys when not configured."""
    path = keys_dir / SECRET_KEY_FILE
    if not path.exists():
        private_directory(keys_dir)
        try:
            _write_private(path, os.urandom(32).hex().encode())
        except FileExistsError:  # another worker won the race
            pass
    return path.read_text().strip()
