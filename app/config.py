"""One table of settings: defaults, OSTIARY_* environment variables, validated at start-up."""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.mail.message import UnsafeHeader, check_sender
from app.mail.smtp_url import parse_smtp_url

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "OSTIARY_"
MIN_SECRET_KEY_LENGTH = 32


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


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip().lower() not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return value.strip().lower()

    return parse


def _str_list(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").split() if item]


# `Label <URL>, Label <URL>`: the form of a named address in mail, so a label may hold commas and spaces.
FOOTER_LINK = re.compile(r"\s*,?\s*([^<>]+?)\s*<([^<>]*)>\s*")


def _footer_links(value: str) -> list[tuple[str, str]]:
    links, position = [], 0
    for match in FOOTER_LINK.finditer(value):
        if match.start() != position:
            break
        links.append((match.group(1).lstrip(", "), match.group(2)))
        position = match.end()
    if position != len(value):
        raise ValueError("expected Label <https://...>, Label <https://...>")
    return links


# The brand's logo as a file served by the app (README "Brand and language"): its type, by extension.
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".webp": "image/webp", ".jpg": "image/jpeg",
              ".jpeg": "image/jpeg", ".gif": "image/gif", ".ico": "image/vnd.microsoft.icon"}
MAX_LOGO_BYTES = 512 * 1024
HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
# Settings that were renamed: a deployment still setting the old name is told, not silently ignored.
RENAMED = {"PRODUCT_NAME": "BRAND_NAME"}
REQUIRE_MFA_VALUES = ("off", "admins", "everyone")


# name -> (default, parser of the environment string)
SETTINGS: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "DATABASE_URL": (f"sqlite:///{ROOT / 'ostiary.db'}", str),
    "DATABASE_CONNECT_TIMEOUT_SECONDS": (3, _positive_int),
    "DATABASE_POOL_TIMEOUT_SECONDS": (5, _positive_int),
    "DATABASE_STATEMENT_TIMEOUT_MS": (10_000, _non_negative_int),
    "ISSUER": ("http://localhost:8000", str),
    "KEYS_DIR": (str(ROOT / "keys"), str),
    "JWKS_MAX_AGE_SECONDS": (600, _positive_int),
    "KEY_PUBLISH_DELAY_SECONDS": (3600, _positive_int),
    "KEY_RESCAN_SECONDS": (5, _positive_int),
    "KEY_RETIRE_LEEWAY_SECONDS": (300, _non_negative_int),
    "KEY_ROTATION_DAYS": (90, _non_negative_int),
    "SECRET_KEY": (None, str),
    "ACCESS_TOKEN_TTL_SECONDS": (600, _positive_int),
    "ID_TOKEN_TTL_SECONDS": (600, _positive_int),
    "REFRESH_TOKEN_TTL_SECONDS": (14 * 24 * 3600, _positive_int),
    # A refresh token family (one sign-in at one client) ends this long after the sign-in, however often rotated.
    "REFRESH_FAMILY_MAX_SECONDS": (90 * 24 * 3600, _positive_int),
    # A just-rotated refresh token presented again this soon is a retry (the response was lost), not a theft.
    "REFRESH_REUSE_GRACE_SECONDS": (10, _non_negative_int),
    "AUTHORIZATION_CODE_TTL_SECONDS": (60, _positive_int),
    "SESSION_ABSOLUTE_TTL_SECONDS": (12 * 3600, _positive_int),
    "SESSION_IDLE_TTL_SECONDS": (2 * 3600, _positive_int),
    # Sensitive account actions (creating an API key) ask for the password again once the sign-in is older.
    "REAUTHENTICATE_SECONDS": (300, _positive_int),
    # After the password, the second factor must follow within this time, in the same browser.
    "SECOND_FACTOR_TTL_SECONDS": (300, _positive_int),
    # Who must sign in with a second factor: "off", "admins" or "everyone" (enrolment is asked for at sign-in).
    "REQUIRE_MFA": ("off", str),
    # Neither revoked nor expired; service accounts, whose keys administrators create, are not capped.
    "LIVE_API_KEYS_PER_PERSON": (20, _positive_int),
    "DEFAULT_AUDIENCE": (None, str),
    "ARGON2_TIME_COST": (3, _positive_int),
    "ARGON2_MEMORY_KIB": (65536, _positive_int),
    "ARGON2_PARALLELISM": (4, _positive_int),
    "MAX_CONTENT_LENGTH_BYTES": (64 * 1024, _positive_int),
    "TRUSTED_PROXY_HOPS": (0, _non_negative_int),
    "LOG_LEVEL": ("INFO", str),
    "METRICS_ALLOWED_NETWORKS": (["127.0.0.1/32", "::1/128"], _str_list),
    "METRICS_BEARER_TOKEN": (None, str),
    "AUDIT_RETENTION_DAYS": (90, _positive_int),
    # The deployer's brand on every page and in every message (README "Brand and language").
    "BRAND_NAME": ("Ostiary", str),
    "BRAND_LOGO_URL": (None, str),
    "BRAND_PRIMARY_COLOR": (None, str),
    "BRAND_SUPPORT_URL": (None, str),
    "BRAND_FOOTER_LINKS": ([], _footer_links),
    # Mail (README "Email delivery"): through the outbox to SMTP_URL, or as .eml files in MAIL_DIR without it.
    "SMTP_URL": (None, str),
    "SMTP_TIMEOUT_SECONDS": (10, _positive_int),
    "MAIL_FROM": (None, str),
    "MAIL_DIR": (str(ROOT / "mail"), str),
    "MAIL_POLL_SECONDS": (5, _positive_int),
    "MAIL_MAX_ATTEMPTS": (10, _positive_int),
    "MAIL_RETRY_INITIAL_SECONDS": (30, _positive_int),
    "MAIL_RETRY_MAX_SECONDS": (3600, _positive_int),
    # Self-service accounts (README "Self-service accounts"). SIGNUP: open | invite | closed; unset, it is open
    # on a loopback issuer (the embedded demo) and closed anywhere else.
    "SIGNUP": (None, str),
    "SIGNUP_ALLOWED_DOMAINS": ([], _str_list),
    "REQUIRE_VERIFIED_EMAIL": (False, _bool),
    "EMAIL_VERIFICATION_TTL_SECONDS": (24 * 3600, _positive_int),
    "PASSWORD_RESET_TTL_SECONDS": (30 * 60, _positive_int),
    "EMAIL_CHANGE_TTL_SECONDS": (24 * 3600, _positive_int),
    "INVITATION_TTL_SECONDS": (7 * 24 * 3600, _positive_int),
    # Forms that send mail (sign-up, verification, password reset, email change): requests per address and per
    # client address within the window, whether or not the address has an account.
    "MAIL_REQUESTS_PER_ADDRESS": (5, _positive_int),
    "MAIL_REQUESTS_PER_IP": (30, _positive_int),
    "MAIL_REQUESTS_WINDOW_SECONDS": (3600, _positive_int),
    # Passwordless passkey challenges per client address per minute: each sign-in page view in a browser with
    # passkey autofill asks for one, and each is a row until it expires.
    "PASSKEY_CHALLENGES_PER_IP": (60, _positive_int),
    # Brute-force limits (OWASP ASVS V2.2.1): failures are counted from the first one for *_LOCKOUT_SECONDS;
    # at the limit the account or address is refused until that period ends (client authentication: only its
    # failures are, a correct secret never is). Never permanent.
    "SIGN_IN_FAILURES_PER_ACCOUNT": (10, _positive_int),
    "SIGN_IN_FAILURES_PER_IP": (100, _positive_int),
    "SIGN_IN_LOCKOUT_SECONDS": (900, _positive_int),
    "CLIENT_AUTH_FAILURES_PER_IP": (100, _positive_int),
    "CLIENT_AUTH_LOCKOUT_SECONDS": (300, _positive_int),
    # Client registrations and API keys kept in each worker's memory, dropped everywhere when one changes
    # (README "Performance"); 0 turns the cache off.
    "CLIENT_CACHE_ENTRIES": (10000, _non_negative_int),
    # Shared rate-limit counters for every node; without it each process counts alone.
    "REDIS_URL": (None, str),
    "CORS_ALLOWED_ORIGINS": ([], _str_list),
    # Clients that arrive on their own (README "Ostiary for MCP servers"): RFC 7591 registration off, with an
    # initial access token, or open to anyone; Client ID Metadata Documents off, from listed hosts, or from any.
    "REGISTRATION": ("off", _choice("off", "token", "open")),
    "REGISTRATIONS_PER_IP_PER_HOUR": (20, _positive_int),
    # An openly registered client that got no code, token or consent within this time is deleted by the purge.
    "REGISTRATION_UNUSED_SECONDS": (24 * 3600, _positive_int),
    "CIMD": ("off", _choice("off", "allowlist", "open")),
    "CIMD_ALLOWED_HOSTS": ([], _str_list),
    # The scopes such clients may hold at most (never ostiary:admin); empty: OpenID Connect scopes and every
    # scope a registered resource defines.
    "DYNAMIC_CLIENT_SCOPES": ([], _str_list),
    # Outbound requests (app/egress), for tests and development only: networks let through the address policy
    # (e.g. 127.0.0.1/32 for a local test server; a loopback range also allows plain http to it), and a CA bundle
    # that replaces the public roots. Off by default.
    "EGRESS_ALLOWED_NETWORKS": ([], _str_list),
    "EGRESS_CA_BUNDLE": (None, str),
    # Secrets the server reads back (app/security/sealed.py) are encrypted under a key derived from this, else
    # from SECRET_KEY; values sealed under a former key still open while it is listed in DATA_KEYS_RETIRED.
    "DATA_KEY": (None, str),
    "DATA_KEYS_RETIRED": ([], _str_list),
    # Federation (README "Federation"): how long a person has between leaving for an upstream provider and
    # coming back, and to confirm a mailed link to an existing account.
    "FEDERATION_STATE_TTL_SECONDS": (600, _positive_int),
    "FEDERATION_LINK_TTL_SECONDS": (3600, _positive_int),
}


def load_settings(environ: Mapping[str, str], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults, then OSTIARY_<NAME> from the environment, then explicit overrides."""
    for old, new in RENAMED.items():
        if environ.get(ENV_PREFIX + old):
            raise ConfigError(f"{ENV_PREFIX}{old} was renamed {ENV_PREFIX}{new}: set that instead")
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


def is_loopback(host: str | None) -> bool:
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
    if parts.scheme == "http" and not is_loopback(parts.hostname):
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
    if settings["REFRESH_REUSE_GRACE_SECONDS"] > 60:
        # Within the window a replayed token is not treated as stolen: keep it to a retry's delay.
        raise ConfigError(f"{ENV_PREFIX}REFRESH_REUSE_GRACE_SECONDS must be at most 60")
    # A next key must reach every JWKS cache before it signs: a node lists keys/ within KEY_RESCAN_SECONDS,
    # and a cache that fetched just before that holds the old set for JWKS_MAX_AGE_SECONDS more.
    if settings["KEY_PUBLISH_DELAY_SECONDS"] < settings["JWKS_MAX_AGE_SECONDS"] + settings["KEY_RESCAN_SECONDS"]:
        raise ConfigError(
            f"{ENV_PREFIX}KEY_PUBLISH_DELAY_SECONDS must be at least JWKS_MAX_AGE_SECONDS + KEY_RESCAN_SECONDS"
            f" ({settings['JWKS_MAX_AGE_SECONDS']} + {settings['KEY_RESCAN_SECONDS']})"
        )
    if settings["SECRET_KEY"] is not None:
        check_secret_key(settings["SECRET_KEY"], f"{ENV_PREFIX}SECRET_KEY")
    if settings["REQUIRE_MFA"] not in REQUIRE_MFA_VALUES:
        raise ConfigError(f"{ENV_PREFIX}REQUIRE_MFA must be one of {', '.join(REQUIRE_MFA_VALUES)}")
    if settings["DATA_KEY"] is not None:
        check_secret_key(settings["DATA_KEY"], f"{ENV_PREFIX}DATA_KEY")
    for retired in settings["DATA_KEYS_RETIRED"]:
        check_secret_key(retired, f"{ENV_PREFIX}DATA_KEYS_RETIRED (each key)")
    if settings["LOG_LEVEL"].upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"{ENV_PREFIX}LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR")
    for network in settings["METRICS_ALLOWED_NETWORKS"]:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}METRICS_ALLOWED_NETWORKS: {network!r} is not an IP address or network") from None
    token = settings["METRICS_BEARER_TOKEN"]
    if token is not None and len(token) < 32:
        raise ConfigError(f"{ENV_PREFIX}METRICS_BEARER_TOKEN must be at least 32 characters")
    _validate_redis_url(settings["REDIS_URL"])
    _validate_brand(settings)
    _validate_mail(settings)
    _validate_signup(settings)
    for origin in settings["CORS_ALLOWED_ORIGINS"]:
        _validate_origin(origin)
    _validate_egress(settings["EGRESS_ALLOWED_NETWORKS"], settings["EGRESS_CA_BUNDLE"])
    _validate_dynamic_clients(settings)


def check_secret_key(secret: str, source: str) -> str:
    """The key that signs CSRF tokens: long enough that it cannot be guessed, wherever it comes from."""
    if len(secret.strip()) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"{source} must be at least {MIN_SECRET_KEY_LENGTH} characters")
    return secret


def _validate_redis_url(url: str | None) -> None:
    if url is None:
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}REDIS_URL is not a valid URL") from None
    database = parts.path.strip("/")
    if parts.scheme in {"redis", "rediss"} and parts.hostname and (not database or database.isdigit()):
        return
    if parts.scheme == "redis+unix" and parts.path:
        return
    # The URL may carry a password: never echo it.
    raise ConfigError(f"{ENV_PREFIX}REDIS_URL must be redis://host[:port][/db], rediss://... or redis+unix:///path")


def _validate_origin(origin: str) -> None:
    """RFC 6454 origin: scheme://host[:port], https unless loopback, nothing after it."""
    name = f"{ENV_PREFIX}CORS_ALLOWED_ORIGINS"
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"{name}: {origin!r} is not an origin") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname or origin != f"{parts.scheme}://{parts.netloc}":
        raise ConfigError(f"{name}: {origin!r} must be scheme://host[:port] with no path or trailing slash")
    if parts.username is not None or (parts.scheme == "http" and not is_loopback(parts.hostname)):
        raise ConfigError(f"{name}: {origin!r} must use https unless it is a loopback address")


SIGNUP_POLICIES = ("open", "invite", "closed")
DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


def signup_policy(settings: Mapping[str, Any]) -> str:
    """OSTIARY_SIGNUP, else open on a loopback issuer (the embedded demo) and closed anywhere else."""
    if settings["SIGNUP"]:
        return str(settings["SIGNUP"])
    return "open" if is_loopback(urlsplit(settings["ISSUER"]).hostname) else "closed"


def _validate_signup(settings: Mapping[str, Any]) -> None:
    if settings["SIGNUP"] and settings["SIGNUP"] not in SIGNUP_POLICIES:
        raise ConfigError(f"{ENV_PREFIX}SIGNUP must be one of {', '.join(SIGNUP_POLICIES)}")
    for domain in settings["SIGNUP_ALLOWED_DOMAINS"]:
        if not DOMAIN.fullmatch(domain):
            raise ConfigError(f"{ENV_PREFIX}SIGNUP_ALLOWED_DOMAINS: {domain!r} is not a lower-case domain name"
                              " (an internationalised one in its xn-- form)")


def _validate_egress(networks: list[str], ca_bundle: str | None) -> None:
    name = f"{ENV_PREFIX}EGRESS_ALLOWED_NETWORKS"
    for network in networks:
        try:
            parsed = ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"{name}: {network!r} is not an IP address or network") from None
        if parsed.prefixlen == 0:
            raise ConfigError(f"{name}: {network!r} would switch the address policy off")
    if ca_bundle is not None:
        try:
            ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError):
            message = "is not a readable PEM file of CA certificates"
            raise ConfigError(f"{ENV_PREFIX}EGRESS_CA_BUNDLE: {ca_bundle!r} {message}") from None


def _validate_dynamic_clients(settings: Mapping[str, Any]) -> None:
    for name, allowed in (("REGISTRATION", ("off", "token", "open")), ("CIMD", ("off", "allowlist", "open"))):
        if settings[name] not in allowed:
            raise ConfigError(f"{ENV_PREFIX}{name} must be one of {', '.join(allowed)}")
    for host in settings["CIMD_ALLOWED_HOSTS"]:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?", host):
            raise ConfigError(f"{ENV_PREFIX}CIMD_ALLOWED_HOSTS: {host!r} must be a lower-case host name[:port]")
    if settings["CIMD"] == "allowlist" and not settings["CIMD_ALLOWED_HOSTS"]:
        raise ConfigError(f"{ENV_PREFIX}CIMD=allowlist needs {ENV_PREFIX}CIMD_ALLOWED_HOSTS")
    if "ostiary:admin" in settings["DYNAMIC_CLIENT_SCOPES"]:
        raise ConfigError(f"{ENV_PREFIX}DYNAMIC_CLIENT_SCOPES must not include ostiary:admin")


def _validate_brand(settings: Mapping[str, Any]) -> None:
    name = settings["BRAND_NAME"]
    if not 0 < len(name.strip()) <= 64 or len(name) > 64 or not name.isprintable():
        raise ConfigError(f"{ENV_PREFIX}BRAND_NAME must be 1 to 64 printable characters")
    logo = settings["BRAND_LOGO_URL"]
    if logo is not None:
        if logo.startswith(("https:", "http:")):
            _validate_link("BRAND_LOGO_URL", logo, mail=False)
        else:
            _validate_logo_file(logo)
    color = settings["BRAND_PRIMARY_COLOR"]
    if color is not None and not HEX_COLOR.fullmatch(color):
        raise ConfigError(f"{ENV_PREFIX}BRAND_PRIMARY_COLOR={color!r} must be a colour as #RRGGBB, e.g. #2450c4")
    if settings["BRAND_SUPPORT_URL"] is not None:
        _validate_link("BRAND_SUPPORT_URL", settings["BRAND_SUPPORT_URL"], mail=True)
    for label, url in settings["BRAND_FOOTER_LINKS"]:
        if not 0 < len(label) <= 64 or not label.isprintable():
            raise ConfigError(f"{ENV_PREFIX}BRAND_FOOTER_LINKS: the label {label[:64]!r} must be 1 to 64 printable characters")
        _validate_link("BRAND_FOOTER_LINKS", url, mail=True)


def _validate_link(name: str, url: str, *, mail: bool) -> None:
    """A link shown to people: https (http only on loopback), or mailto: where a mail address fits."""
    parts = urlsplit(url) if url.isprintable() and " " not in url and len(url) <= 2000 else None
    if parts is not None and mail and parts.scheme == "mailto" and "@" in parts.path:
        return
    try:
        hostname = parts.hostname if parts is not None else None
    except ValueError:
        hostname = None
    if parts is not None and hostname and parts.username is None and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(hostname))):
        return
    expected = "an https:// URL" + (" or a mailto: address" if mail else "")
    raise ConfigError(f"{ENV_PREFIX}{name}: {url[:200]!r} must be {expected} (http only on a loopback address)")


def _validate_logo_file(path: str) -> None:
    """A logo the app serves itself: an image file of a known type, small enough to send with every page."""
    name = f"{ENV_PREFIX}BRAND_LOGO_URL"
    file = Path(path)
    if file.suffix.lower() not in LOGO_TYPES:
        raise ConfigError(f"{name}: {path!r} must be an https:// URL or an image file ({', '.join(LOGO_TYPES)})")
    try:
        size = file.stat().st_size
        with file.open("rb"):
            pass
    except OSError:
        raise ConfigError(f"{name}: {path!r} is not a readable file") from None
    if not file.is_file() or size > MAX_LOGO_BYTES:
        raise ConfigError(f"{name}: {path!r} must be a file of at most {MAX_LOGO_BYTES // 1024} KiB")


def _validate_mail(settings: Mapping[str, Any]) -> None:
    if settings["SMTP_URL"] is not None:
        try:
            parse_smtp_url(settings["SMTP_URL"])
        except ValueError as exc:  # the message never echoes the URL: it may carry a password
            raise ConfigError(f"{ENV_PREFIX}SMTP_URL {exc}") from None
    # A claimed message is retaken after a lease sized for a few SMTP round trips (app/services/outbox.py).
    if settings["SMTP_TIMEOUT_SECONDS"] > 60:
        raise ConfigError(f"{ENV_PREFIX}SMTP_TIMEOUT_SECONDS must be at most 60")
    if settings["MAIL_FROM"] is not None:
        try:
            check_sender(settings["MAIL_FROM"])
        except UnsafeHeader as exc:
            raise ConfigError(f"{ENV_PREFIX}MAIL_FROM: {exc}") from None
    if settings["MAIL_RETRY_MAX_SECONDS"] < settings["MAIL_RETRY_INITIAL_SECONDS"]:
        raise ConfigError(f"{ENV_PREFIX}MAIL_RETRY_MAX_SECONDS must be at least MAIL_RETRY_INITIAL_SECONDS")


def database_url(url: str) -> str:
    """psycopg 3 is the PostgreSQL driver: accept the bare postgresql:// scheme too."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def engine_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """SQLAlchemy engine options: on PostgreSQL no wait is unbounded. (Dead pooled connections are replaced by
    app/database_pool.py.)"""
    # hide_parameters: a database error's text would otherwise carry the bound values (password hashes, digests).
    options: dict[str, Any] = {"hide_parameters": True}
    if not database_url(settings["DATABASE_URL"]).startswith("postgresql"):
        return options
    # libpq waits for an unreachable server as long as TCP does (minutes); a request should get its 503 first.
    connect_args: dict[str, Any] = {"connect_timeout": settings["DATABASE_CONNECT_TIMEOUT_SECONDS"]}
    if settings["DATABASE_STATEMENT_TIMEOUT_MS"]:
        # Server side: a statement stuck behind a lock is cancelled instead of holding a worker thread.
        connect_args["options"] = f"-c statement_timeout={settings['DATABASE_STATEMENT_TIMEOUT_MS']}"
    options.update(pool_timeout=settings["DATABASE_POOL_TIMEOUT_SECONDS"], connect_args=connect_args)
    return options


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:///path URL; None for PostgreSQL and in-memory SQLite."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix):] in {"", ":memory:"}:
        return None
    return Path(url[len(prefix):].partition("?")[0])


def key_retention_seconds(settings: Mapping[str, Any]) -> int:
    """How long a retired key stays published: its last token's lifetime plus verifiers' clock leeway."""
    longest = max(settings["ACCESS_TOKEN_TTL_SECONDS"], settings["ID_TOKEN_TTL_SECONDS"])
    return longest + settings["KEY_RETIRE_LEEWAY_SECONDS"]


def environment() -> Mapping[str, str]:
    return os.environ
