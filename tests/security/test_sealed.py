"""app/security/sealed.py: AES-256-GCM under a key derived from OSTIARY_DATA_KEY (or the secret key)."""

from __future__ import annotations

import pytest

from app.security.sealed import Sealer, Unreadable

KEY = "data-key-that-is-long-enough-0123456789"
OTHER = "another-data-key-long-enough-0123456789"


def test_a_sealed_value_opens_for_its_purpose_only():
    sealer = Sealer(KEY)
    sealed = sealer.seal("federation.client_secret", b"s3cret")
    assert b"s3cret" not in sealed.encode() and sealed.startswith(f"v1.{sealer.kid}.")
    assert sealer.unseal("federation.client_secret", sealed) == b"s3cret"
    assert sealer.seal("federation.client_secret", b"s3cret") != sealed  # a fresh nonce every time


def _flip(sealed: str) -> str:
    head, _, body = sealed.rpartition(".")
    return f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}"


@pytest.mark.parametrize(("opener", "purpose", "tamper"), [
    (Sealer(KEY), "totp.seed", lambda s: s),                     # another purpose
    (Sealer(OTHER), "federation.client_secret", lambda s: s),    # another key
    (Sealer(KEY), "federation.client_secret", _flip),            # altered ciphertext
    (Sealer(KEY), "federation.client_secret", lambda s: "v2" + s[2:]),  # unknown format
    (Sealer(KEY), "federation.client_secret", lambda s: s.rpartition(".")[0] + ".!!!"),  # not base64url
    (Sealer(KEY), "federation.client_secret", lambda s: s.rpartition(".")[0] + "."),  # empty
])
def test_anything_else_is_unreadable(opener, purpose, tamper):
    sealed = Sealer(KEY).seal("federation.client_secret", b"s3cret")
    with pytest.raises(Unreadable):
        opener.unseal(purpose, tamper(sealed))


def test_a_retired_key_still_opens_what_it_sealed():
    old = Sealer(OTHER).seal("totp.seed", b"seed")
    rotated = Sealer(KEY, [OTHER])
    assert rotated.unseal("totp.seed", old) == b"seed"
    assert not rotated.is_current(old) and rotated.is_current(rotated.seal("totp.seed", b"seed"))


@pytest.mark.parametrize("purpose", ["", "x" * 65, "zweck-ä"])
def test_a_purpose_is_short_ascii(purpose):
    with pytest.raises(ValueError):
        Sealer(KEY).seal(purpose, b"x")
