"""Hand-made JWTs for attacks: any header, any algorithm, any key, signed with nothing but `cryptography`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWS, unverified."""
    header, payload, _ = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(payload))


def signing_input(header: dict[str, Any], claims: dict[str, Any]) -> bytes:
    encode = lambda value: b64url(json.dumps(value, separators=(",", ":")).encode())
    return f"{encode(header)}.{encode(claims)}".encode("ascii")


def sign_rs256(header: dict[str, Any], claims: dict[str, Any], private_key: rsa.RSAPrivateKey) -> str:
    message = signing_input({**header, "alg": "RS256"}, claims)
    return f"{message.decode()}.{b64url(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256()))}"


def sign_hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    message = signing_input({**header, "alg": "HS256"}, claims)
    return f"{message.decode()}.{b64url(hmac.new(secret, message, hashlib.sha256).digest())}"


def unsigned(header: dict[str, Any], claims: dict[str, Any], alg: str = "none") -> str:
    return f"{signing_input({**header, 'alg': alg}, claims).decode()}."


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    numbers = private_key.public_key().public_numbers()
    as_bytes = lambda n: n.to_bytes((n.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "kid": kid, "n": b64url(as_bytes(numbers.n)), "e": b64url(as_bytes(numbers.e))}


def public_pem(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


def tampered(token: str, **changes: Any) -> str:
    """The same signature over a changed payload."""
    header, claims = parts(token)
    signature = token.rsplit(".", 1)[1]
    return f"{signing_input(header, {**claims, **changes}).decode()}.{signature}"
