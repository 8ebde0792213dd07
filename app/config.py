"""One table of settings: defaults, OSTIARY_* environment variables, validated at start-up."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "OSTIARY_"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("expected a positive integer")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("expected a non-negative integer")
    return number


def _str_list(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").split() if item]


# name -> (default, parser of the environment string)
SETTINGS: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "DATABASE_URL": (f"sqlite:///{ROOT / 'ostiary.db'}", str),
    "ISSUER": ("http://localhost:8000", str),
    "KEYS_DIR": (str(ROOT / "keys"), str),
    "SECRET_KEY": (None, str),
    "ACCESS_TOKEN_TTL_SECONDS": (600, _positive_int),
    "ID_TOKEN_TTL_SECONDS": (600, _positive_int),
    "REFRESH_TOKEN_TTL_SECONDS": (14 * 24 * 3600, _positive_int),
    "AUTHORIZATION_CODE_TTL_SECONDS": (60, _positive_int),
    "SESSION_ABSOLUTE_TTL_SECONDS": (12 * 3600, _positive_int),
    "SESSION_IDLE_TTL_SECONDS": (2 * 3600, _positive_int),
    "DEFAULT_AUDIENCE": (None, str),
    "ARGON2_TIME_COST": (3, _positive_int),
    "ARGON2_MEMORY_KIB": (65536, _positive_int),
    "ARGON2_PARALLELISM": (4, _positive_int),
    "MAX_CONTENT_LENGTH_BYTES": (64 * 1024, _positive_int),
    "TRUSTED_PROXY_HOPS": (0, _non_negative_int),
    "LOG_LEVEL": ("INFO", str),
}


def load_settings(environ: Mapping[str, str], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults, then OSTIARY_<NAME> from the environment, then explicit overrides."""
    settings: dict[str, Any] = {}
    for name, (default, parse) in SETTINGS.items():
        raw = environ.get(ENV_PREFIX + name)
        if raw is None or raw == "":
            settings[name] = default
            continue
        try:
            settings[name] = parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{ENV_PREFIX}{name}={raw!r} is invalid: {exc}") from None
    for name, value in (overrides or {}).items():
        settings[name] = value
    validate(settings)
    return settings


def _is_loopback(host: str | None) -> bool:
    return host in {"localhost", "127.0.0.1", "::1"}


def validate(settings: Mapping[str, Any]) -> None:
    """Fail fast with the name of the first bad variable."""
    issuer = settings["ISSUER"]
    try:
        parts = urlsplit(issuer)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}ISSUER={issuer!r} is not a valid URL") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname or any(ord(c) <= 32 or ord(c) == 127 for c in issuer):
        raise ConfigError(f"{ENV_PREFIX}ISSUER={issuer!r} must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{ENV_PREFIX}ISSUER must not contain user information")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(f"{ENV_PREFIX}ISSUER={issuer!r} must use https unless it is a loopback address")
    if parts.query or parts.fragment or parts.path:
        # Endpoints live at the root, so a path in the issuer would break RFC 8414 §3.1 metadata discovery.
        raise ConfigError(f"{ENV_PREFIX}ISSUER={issuer!r} must be scheme://host[:port] with no path, query or fragment")
    url = settings["DATABASE_URL"]
    if not url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
        raise ConfigError(
            f"{ENV_PREFIX}DATABASE_URL must start with sqlite:// or postgresql+psycopg:// (got {url.split(':')[0]}://)"
        )
    if settings["AUTHORIZATION_CODE_TTL_SECONDS"] > 60:
        raise ConfigError(f"{ENV_PREFIX}AUTHORIZATION_CODE_TTL_SECONDS must be at most 60")
    secret = settings["SECRET_KEY"]
    if secret is not None and len(secret) < 32:
        raise ConfigError(f"{ENV_PREFIX}SECRET_KEY must be at least 32 characters")
    if settings["LOG_LEVEL"].upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"{ENV_PREFIX}LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR")


def database_url(url: str) -> str:
    """psycopg 3 is the PostgreSQL driver: accept the bare postgresql:// scheme too."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def environment() -> Mapping[str, str]:
    return os.environ
