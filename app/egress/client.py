"""The server's one way out: fetch a document, or hand a policed requests Session to Authlib's OAuth client."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from authlib.integrations.requests_client import OAuth2Session

from app.egress.addresses import AddressPolicy
from app.egress.errors import EgressError, InvalidJSON, UnexpectedContentType, UnexpectedStatus, URLRefused
from app.egress.sockets import tls_context
from app.egress.transport import EgressAdapter, Limits, check_url, log_failure

JSON_TYPES = ("application/json",)
DEFAULT_MAX_DEPTH = 10
USER_AGENT = "Ostiary"

SessionT = TypeVar("SessionT", bound=requests.Session)


@dataclass(frozen=True)
class Fetched:
    """A 200 response read whole: header names in lower case."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def media_type(self) -> str | None:
        return media_type(self.headers.get("content-type"))


def media_type(content_type: str | None) -> str | None:
    """RFC 9110 §8.3.1: the type/subtype before any parameters, case-insensitive."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


class Egress:
    """Outbound HTTP for the whole server: one address policy, one TLS trust store, bounded everything."""

    def __init__(
        self, policy: AddressPolicy | None = None, ca_bundle: str | None = None, limits: Limits | None = None
    ) -> None:
        self.policy = policy or AddressPolicy()
        self.limits = limits or Limits()
        self.ca_bundle = ca_bundle
        # Built on first use: loading the public roots takes ~20 ms, and most processes never fetch anything.
        self._ssl_context: ssl.SSLContext | None = None
        self._shared_adapter: EgressAdapter | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Egress:
        return cls(AddressPolicy.from_strings(settings["EGRESS_ALLOWED_NETWORKS"]), settings["EGRESS_CA_BUNDLE"])

    def _new_adapter(self) -> EgressAdapter:
        with self._lock:
            if self._ssl_context is None:
                self._ssl_context = tls_context(self.ca_bundle)
        return EgressAdapter(self.policy, self._ssl_context, self.limits)

    @property
    def _adapter(self) -> EgressAdapter:
        """The adapter `fetch` shares across threads (urllib3's pools are thread-safe)."""
        adapter = self._shared_adapter
        if adapter is None:
            adapter = self._new_adapter()
            with self._lock:
                if self._shared_adapter is None:
                    self._shared_adapter = adapter
                adapter = self._shared_adapter
        return adapter

    def fetch(
        self,
        url: str,
        *,
        content_types: Collection[str] | None = None,
        headers: Mapping[str, str] | None = None,
        limits: Limits | None = None,
    ) -> Fetched:
        """GET url; anything but a 200 with one of `content_types` (when given) is an EgressError."""
        check_url(url, self.policy)
        wanted = {media.lower() for media in content_types or ()}
        request_headers = {"User-Agent": USER_AGENT, "Accept": ", ".join(sorted(wanted)) or "*/*"}
        try:
            prepared = requests.Request("GET", url, headers={**request_headers, **(headers or {})}).prepare()
        except (requests.RequestException, ValueError) as exc:
            raise URLRefused(f"{url!r} cannot be requested: {exc}") from None
        response = self._adapter.send(prepared, limits=limits)
        fetched = Fetched(url, response.status_code, {k.lower(): v for k, v in response.headers.items()},
                          response.content)
        try:
            if fetched.status != 200:
                raise UnexpectedStatus(f"{url} answered {fetched.status}",
                                       f"the host answered with HTTP {fetched.status}", status=fetched.status)
            if wanted and fetched.media_type not in wanted:
                raise UnexpectedContentType(f"{url} sent Content-Type {fetched.headers.get('content-type')!r}",
                                            f"the response is not {' or '.join(sorted(wanted))}")
        except EgressError as exc:
            log_failure(url, exc)
            raise
        return fetched

    def fetch_json(
        self,
        url: str,
        *,
        content_types: Collection[str] = JSON_TYPES,
        headers: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> dict[str, Any]:
        """GET a JSON object (RFC 8259, I-JSON RFC 7493 strictness): see `json_object`."""
        fetched = self.fetch(url, content_types=content_types, headers=headers, limits=limits)
        return json_object(fetched.content, max_depth=max_depth)

    def configure(self, session: SessionT) -> SessionT:
        """Route every request of `session` through the policy: no proxies or .netrc from the environment."""
        session.trust_env = False
        session.proxies.clear()
        session.max_redirects = 0
        # A fresh adapter per session: Authlib closes its sessions, which closes their adapters' pools.
        adapter = self._new_adapter()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def session(self) -> requests.Session:
        return self.configure(requests.Session())

    def oauth2_session_class(self) -> type[OAuth2Session]:
        """Authlib's requests OAuth2Session, policed: a FlaskOAuth2App subclass sets it as `client_cls`."""
        egress = self

        class EgressOAuth2Session(OAuth2Session):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                egress.configure(self)

        return EgressOAuth2Session

    def close(self) -> None:
        if self._shared_adapter is not None:
            self._shared_adapter.close()


def json_object(body: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """A UTF-8 JSON object, no duplicate member names or NaN/Infinity, nested at most max_depth levels."""
    too_deep = f"the JSON is nested more than {max_depth} levels"
    try:
        value = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_members, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidJSON("JSON nested too deeply for the parser", too_deep) from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise InvalidJSON(f"not JSON: {exc}", "the response is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidJSON(f"JSON {type(value).__name__}, not an object", "the response is not a JSON object")
    if _depth(value) > max_depth:
        raise InvalidJSON(f"JSON nested more than {max_depth} levels", too_deep)
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers could pick different values for a repeated name (RFC 7493 §2.3 forbids it).
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member name")
    return members


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
