"""Site: Ostiary at a base URL as an HTTP client sees it, over real HTTP, or in this process through its WSGI app.

The second is the first's requests and responses (`requests` builds and reads them alike, cookies and redirects
included) without the socket and the server's thread between: a third of the cost of a request to the live
server. Third-party clients, and anything that starts a process, keep the live server."""

from __future__ import annotations

from http.client import HTTPMessage
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from werkzeug.test import EnvironBuilder, run_wsgi_app


class Site:
    """Ostiary at `base_url`: reached over real HTTP, or with `app` given, through it in this process."""

    def __init__(self, base_url: str, app: Flask | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app

    def session(self) -> requests.Session:
        """A session of its own, as a browser's or a client's. In process it reads none of the environment's
        proxies, .netrc and CA bundle (REQUESTS_CA_BUNDLE, which tests of TLS set), half a millisecond a request."""
        session = requests.Session()
        if self.app is not None:
            session.trust_env = False
            session.mount(f"{self.base_url}/", InProcessAdapter(self.app))
        return session

    def url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else self.base_url + path_or_url

    def request(self, method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        """One request on a session of its own, as `requests.request` makes it."""
        with self.session() as session:
            return session.request(method, self.url(path_or_url), **kwargs)

    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path_or_url, **kwargs)

    def post(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path_or_url, **kwargs)

    def put(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path_or_url, **kwargs)

    def delete(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path_or_url, **kwargs)


def as_site(target: Site | str) -> Site:
    """A helper's target: a Site, or the base URL of a server reached over real HTTP."""
    return target if isinstance(target, Site) else Site(target)


class InProcessAdapter(BaseAdapter):
    """A `requests` transport that hands each prepared request to a WSGI app, as a server would from the wire."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Any = None) -> requests.Response:
        url = urlsplit(request.url)
        body = request.body.encode() if isinstance(request.body, str) else request.body
        builder = EnvironBuilder(
            path=url.path or "/", base_url=f"{url.scheme}://{url.netloc}", query_string=url.query,
            method=request.method, headers=list(request.headers.items()), data=body,
            environ_base={"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000"},
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, headers = run_wsgi_app(self.app, environ, buffered=True)
        response = requests.Response()
        code, _, reason = status.partition(" ")
        response.status_code, response.reason = int(code), reason
        response.headers = CaseInsensitiveDict()
        for name, value in headers.items():  # repeated fields joined, as urllib3 hands them over
            response.headers[name] = f"{response.headers[name]}, {value}" if name in response.headers else value
        response.encoding = get_encoding_from_headers(response.headers)
        response._content, response._content_consumed = b"".join(app_iter), True
        response.url, response.request = request.url or "", request
        # What Session.send reads the Set-Cookie headers from, as urllib3 hands them over.
        message = HTTPMessage()
        for name, value in headers.items():
            message[name] = value
        response.raw = SimpleNamespace(_original_response=SimpleNamespace(msg=message), release_conn=None)
        return response

    def close(self) -> None:
        pass
