"""The keyring: each key file imported once, states recomputed by the clock, keys/ re-listed every few seconds."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from app.security.key_schedule import Schedule, schedule
from app.security.keys import RSA_KEY_BITS, SIGNING_ALG, KeyFile, NoSigningKeyError, key_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: RSAKey


@dataclass(frozen=True)
class KeyView:
    """What requests read, consistent with itself; replaced whole on a change, never mutated."""

    plan: Schedule
    signing: SigningKey | None
    published: Mapping[str, SigningKey]
    key_set: KeySet
    jwks_json: str
    etag: str


class KeyRing:
    """Keys are imported once per file (an RSA private-key import costs milliseconds), never per request.

    A request costs two clock reads; every rescan_seconds one of them also lists keys/ (key files are
    immutable and named by kid, so a changed listing is the only change there is). Listing rather than
    comparing the directory mtime also catches two changes within the filesystem's timestamp granularity.
    Both clocks are injectable: `clock` (wall time) moves key states on, `monotonic` times the rescans.
    """

    def __init__(
        self,
        keys_dir: Path,
        *,
        retention_seconds: int,
        rescan_seconds: float = 5,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys_dir = keys_dir
        self.retention_seconds = retention_seconds
        self.rescan_seconds = rescan_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._imported: dict[KeyFile, SigningKey] = {}
        self._files: tuple[KeyFile, ...] = ()
        self._failed: set[KeyFile] = set()
        self._rescan_at = 0.0
        self._rescan()
        self._rescan_at = self._monotonic() + rescan_seconds
        self._view = self._build(self._clock(), previous=None)

    def view(self) -> KeyView:
        """The keys as of now."""
        view = self._view
        if self._clock() < view.plan.changes_at and self._monotonic() < self._rescan_at:
            return view
        with self._lock:
            self._refresh()
            return self._view

    @property
    def current(self) -> SigningKey:
        signing = self.view().signing
        if signing is None:
            raise NoSigningKeyError(f"no signing key in {self.keys_dir}: run `ostiary init`")
        return signing

    @property
    def key_set(self) -> KeySet:
        return self.view().key_set

    @property
    def jwks_json(self) -> str:
        return self.view().jwks_json

    def find(self, kid: str) -> RSAKey | None:
        """A published key (next, current or retired) by kid."""
        found = self.view().published.get(kid)
        return found.key if found else None

    def _refresh(self) -> None:
        changed = False
        if self._monotonic() >= self._rescan_at:
            self._rescan_at = self._monotonic() + self.rescan_seconds
            changed = self._rescan()
        now = self._clock()
        if changed or now >= self._view.plan.changes_at:
            self._view = self._build(now, previous=self._view)

    def _rescan(self) -> bool:
        try:
            files = tuple(key_files(self.keys_dir))
        except OSError as exc:
            # A briefly unmounted volume must not stop signing: keep the keys already in memory.
            log.error("cannot list the keys directory; keeping the loaded keys", extra={"error": str(exc)})
            return False
        if files == self._files and not self._failed:
            return False
        self._imported = {f: self._imported[f] for f in files if f in self._imported}
        self._failed = set()
        for key_file in files:
            if key_file not in self._imported:
                self._import(key_file)
        self._files = files
        return True

    def _import(self, key_file: KeyFile) -> None:
        try:
            private = _private_key((self.keys_dir / key_file.name).read_bytes())
            if not isinstance(private, rsa.RSAPrivateKey):
                raise TypeError("not an RSA private key")
            if private.key_size < RSA_KEY_BITS:  # joserfc would only warn, then publish and sign with it
                raise ValueError(f"an RSA key of {private.key_size} bits: at least {RSA_KEY_BITS} are required")
            key = RSAKey.import_key(private, {"use": "sig", "alg": SIGNING_ALG, "kid": key_file.kid})
            if key.thumbprint() != key_file.kid:  # RFC 7638
                raise ValueError("the file name does not match the key's thumbprint")
        except (OSError, ValueError, TypeError, JoseError) as exc:
            # Left out (and retried at the next rescan) rather than failing every request.
            self._failed.add(key_file)
            log.error("cannot load signing key file", extra={"file": key_file.name, "error": str(exc)})
            return
        self._imported[key_file] = SigningKey(kid=key_file.kid, key=key)

    def _build(self, now: float, previous: KeyView | None) -> KeyView:
        plan = schedule(list(self._imported), now, self.retention_seconds)
        signing = self._imported[plan.current.key] if plan.current else None
        # The signing key first, then the rest newest first: a client that takes the first key gets the right one.
        states = sorted(
            (s for s in plan.states if s.published), key=lambda s: (s is not plan.current, -s.key.activates_at)
        )
        published = {s.kid: self._imported[s.key] for s in states}
        body = json.dumps({"keys": [k.key.as_dict(private=False) for k in published.values()]}, separators=(",", ":"))
        kid = signing.kid if signing else None
        if previous is not None and (previous.signing.kid if previous.signing else None) != kid:
            log.info("signing key changed", extra={"kid": kid})
        return KeyView(
            plan=plan,
            signing=signing,
            published=published,
            key_set=KeySet([k.key for k in published.values()]),
            jwks_json=body,
            etag=hashlib.sha256(body.encode()).hexdigest()[:32],
        )


@lru_cache(maxsize=16)
def _private_key(pem: bytes) -> object:
    """The parsed key of these PEM bytes, once per process: parsing checks the RSA key's consistency (about 40 ms),
    and every app a process builds (the CLI, tests) reads the same few files. Keyed by the bytes, so a changed file
    is parsed afresh."""
    return serialization.load_pem_private_key(pem, password=None)
