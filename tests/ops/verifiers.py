"""Three independent access-token verifiers, each caching the JWKS the way real services do.

- PyJWT: the example API's verifier (PyJWKClient, key set cached for the JWKS max-age).
- joserfc behind an HTTP cache (RFC 9111): fresh for Cache-Control max-age, then revalidated with
  If-None-Match; it never refetches for an unknown kid, like a CDN or caching proxy in front of a service.
- node's jose: createRemoteJWKSet + jwtVerify in a separate process (node_verifier/verify.mjs).

PyJWKClient and jose refetch for an unknown kid only after a 30 s cooldown from their last fetch; with the
key set refetched every few seconds they stay in cooldown, so all three fail if a key signs before it has
been published for a cache lifetime, and all three fail if a key is unpublished while its tokens live.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from tests.ops.protected_api import AccessTokenVerifier

NODE_VERIFIER = Path(__file__).resolve().parent / "node_verifier"
MAX_AGE = re.compile(r"max-age=([0-9]+)")


class CachedKeySet:
    """The key set as an HTTP cache holds it, counting full fetches and 304 revalidations."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.keys: KeySet | None = None
        self.etag: str | None = None
        self.fresh_until = 0.0
        self.fetched = self.not_modified = 0

    def get(self) -> KeySet:
        if self.keys is None or time.monotonic() >= self.fresh_until:
            requested = time.monotonic()  # RFC 9111 §4.2.3: age counts from the request, to err on the safe side
            response = self.session.get(self.url, headers={"If-None-Match": self.etag} if self.etag else {}, timeout=5)
            if response.status_code == 304:
                self.not_modified += 1
            else:
                response.raise_for_status()
                self.keys, self.etag = KeySet.import_key_set(response.json()), response.headers["ETag"]
                self.fetched += 1
            found = MAX_AGE.search(response.headers.get("Cache-Control", ""))
            self.fresh_until = requested + (int(found.group(1)) if found else 0)
        return self.keys


class JoserfcVerifier:
    """joserfc's jwt.decode and claims registry over the HTTP-cached key set."""

    def __init__(self, issuer: str, audience: str) -> None:
        self.key_set = CachedKeySet(f"{issuer}/.well-known/jwks.json")
        self.claims = JWTClaimsRegistry(
            iss={"essential": True, "value": issuer}, aud={"essential": True, "value": audience},
            exp={"essential": True}, sub={"essential": True}, jti={"essential": True},
        )

    def verify(self, token: str) -> dict[str, Any]:
        decoded = jwt.decode(token, self.key_set.get(), algorithms=["RS256"])
        if decoded.header.get("typ") != "at+jwt":
            raise ValueError(f"typ is {decoded.header.get('typ')!r}")
        self.claims.validate(decoded.claims)  # exp, and nbf/iat when present
        return decoded.claims


def python_verifiers(issuer: str, cache_seconds: float) -> dict[str, AccessTokenVerifier | JoserfcVerifier]:
    """PyJWT (the key set cached for cache_seconds) and joserfc (cached as the JWKS response allows)."""
    return {"pyjwt": AccessTokenVerifier(issuer, issuer, cache_seconds=cache_seconds),
            "joserfc": JoserfcVerifier(issuer, issuer)}


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def install_node_verifier() -> None:
    """`npm ci` from the lock file, once (CI does it up front in .ci/run)."""
    if not (NODE_VERIFIER / "node_modules" / "jose").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=NODE_VERIFIER, check=True,
                       timeout=300, stdin=subprocess.DEVNULL)


class NodeVerifier:
    """verify.mjs in its own process: tokens go in on stdin, results come back on stdout."""

    def __init__(self, issuer: str, audience: str, cache_seconds: float) -> None:
        self.process = subprocess.Popen(
            ["node", "verify.mjs", issuer, audience, str(int(cache_seconds * 1000))], cwd=NODE_VERIFIER,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        self.results: dict[int, dict[str, Any]] = {}
        self.submitted = 0
        self._done = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def submit(self, token: str) -> int:
        self.submitted += 1
        self.process.stdin.write(json.dumps({"id": self.submitted, "token": token}) + "\n")
        return self.submitted

    def _read(self) -> None:
        for line in self.process.stdout:
            result = json.loads(line)
            with self._done:
                self.results[result["id"]] = result
                self._done.notify_all()

    def wait(self, timeout: float) -> dict[int, dict[str, Any]]:
        with self._done:
            self._done.wait_for(lambda: len(self.results) >= self.submitted, timeout=timeout)
        return dict(self.results)

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
