"""A requests session that sends Origin and Referer on a form POST the way a browser would (Fetch standard)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

# Referrer Policy §3 for a same-origin request over https: what each policy lets through as Referer.
FULL_URL = {"unsafe-url", "no-referrer-when-downgrade", "origin-when-cross-origin", "same-origin",
            "strict-origin-when-cross-origin"}
ORIGIN_ONLY = {"origin", "strict-origin"}
DEFAULT_POLICY = "strict-origin-when-cross-origin"  # browsers' default when a page sets none


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class BrowserLikeSession(requests.Session):
    """Remembers the last page and its Referrer-Policy; a POST to the same origin carries what a browser adds.

    Flask-WTF checks the Referer of every https form POST, so a client that never sends one is no browser.
    """

    def __init__(self) -> None:
        super().__init__()
        self.page: requests.Response | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if method.upper() == "POST" and self.page is not None and origin_of(self.page.url) == origin_of(url):
            kwargs["headers"] = self._navigation_headers() | (kwargs.get("headers") or {})
        response = super().request(method, url, *args, **kwargs)
        if response.headers.get("Content-Type", "").startswith("text/html"):
            self.page = response
        return response

    def _navigation_headers(self) -> dict[str, str]:
        assert self.page is not None
        # The last policy token the browser understands wins (Referrer Policy §8.1); ours are all known.
        policy = self.page.headers.get("Referrer-Policy", DEFAULT_POLICY).split(",")[-1].strip().lower()
        origin = origin_of(self.page.url)
        if policy == "no-referrer":
            return {"Origin": "null"}
        if policy in ORIGIN_ONLY:
            return {"Origin": origin, "Referer": origin + "/"}
        assert policy in FULL_URL, policy
        return {"Origin": origin, "Referer": urlunsplit(urlsplit(self.page.url)._replace(fragment=""))}
