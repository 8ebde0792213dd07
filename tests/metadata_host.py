"""A real local HTTPS host for Client ID Metadata Documents, and Ostiary's egress set to reach it (tests only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from app.egress import AddressPolicy, Egress
from app.services.metadata_documents import CACHE
from tests.egress.conftest import FAST, LocalServer, issue, make_ca, send, send_json, serve, server_context


@pytest.fixture(scope="module")
def document_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalServer, str]]:
    """An HTTPS server on 127.0.0.1 with a certificate from a CA made here; (server, CA bundle path)."""
    tmp = tmp_path_factory.mktemp("cimd-pki")
    ca = make_ca("CIMD test CA")
    (tmp / "ca.pem").write_bytes(ca.pem())
    server = serve(LocalServer(("127.0.0.1", 0), server_context(issue(ca, tmp, "host")), "documents"))
    yield server, str(tmp / "ca.pem")
    server.shutdown()
    server.server_close()


@pytest.fixture
def documents(app: Flask, document_host, monkeypatch) -> Iterator[Callable[..., str]]:
    """publish(path, document) serves a document and returns its URL (= its client_id). CIMD open, 127.0.0.1 let
    through the address policy, the test CA trusted: what OSTIARY_EGRESS_ALLOWED_NETWORKS and _CA_BUNDLE do."""
    server, ca_file = document_host
    egress = Egress(AddressPolicy.from_strings(["127.0.0.1/32"]), ca_file, FAST)
    monkeypatch.setitem(app.extensions, "ostiary.egress", egress)
    monkeypatch.setitem(app.config, "CIMD", "open")
    app.extensions.pop(CACHE, None)

    def publish(path: str, document: Any, **kwargs: Any) -> str:
        url = server.url(path)
        body = document(url) if callable(document) else document
        if isinstance(body, dict | list):
            server.routes[path] = lambda h: send_json(h, body, **kwargs)
        else:
            server.routes[path] = lambda h: send(h, 200, body, **kwargs)
        return url

    yield publish
    app.extensions.pop(CACHE, None)
    egress.close()
