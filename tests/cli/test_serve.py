"""`ostiary serve`: the issuer follows the port it serves when none is configured, and a mismatch is told."""

from __future__ import annotations

import pytest
import requests

from app.serve import plan
from tests.processes import free_port, ostiary, serve


def issuer_of(base_url: str) -> str:
    return requests.get(f"{base_url}/.well-known/openid-configuration", timeout=10).json()["issuer"]


def test_without_an_issuer_the_server_advertises_the_port_it_serves(env, tmp_path):
    assert "OSTIARY_ISSUER" not in env
    port = free_port()
    with serve(env, tmp_path / "serve.log", workers=1, port=port) as node:
        assert issuer_of(node.url) == f"http://localhost:{port}"
    assert "Warning" not in (tmp_path / "serve.log").read_text()


def test_a_loopback_issuer_names_the_port_to_serve(env, tmp_path):
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    with serve(env | {"OSTIARY_ISSUER": issuer}, tmp_path / "serve.log", workers=1, name_port=False) as node:
        assert issuer_of(node.url) == issuer


def test_a_loopback_issuer_on_another_port_is_warned_of_at_start_up(env, tmp_path):
    port, other = free_port(), free_port()
    issuer = f"http://localhost:{other}"
    with serve(env | {"OSTIARY_ISSUER": issuer}, tmp_path / "serve.log", workers=1, port=port) as node:
        assert issuer_of(node.url) == issuer
    [warning] = [line for line in (tmp_path / "serve.log").read_text().splitlines() if line.startswith("Warning")]
    assert f"OSTIARY_ISSUER={issuer}" in warning and str(port) in warning


def test_init_prints_the_url_that_serve_will_serve(env):
    assert "http://localhost:8000" in ostiary(env, "init").stdout
    assert "http://127.0.0.1:9123" in ostiary(env | {"OSTIARY_ISSUER": "http://127.0.0.1:9123"}, "init").stdout


@pytest.mark.parametrize(("issuer", "given", "bound", "advertised", "warned"), [
    (None, None, 8000, "http://localhost:8000", False),
    (None, 5200, 5200, "http://localhost:5200", False),
    ("http://127.0.0.1:9000", None, 9000, None, False),
    ("http://127.0.0.1:9000", 9000, 9000, None, False),
    ("http://localhost:9000", 5200, 5200, None, True),
    ("http://localhost", None, 8000, None, True),
    # gunicorn speaks plain http: an https issuer is a proxy's address, on the proxy's port.
    ("https://localhost:8443", None, 8000, None, False),
    ("https://id.example.com", 5200, 5200, None, False),
])
def test_the_port_served_and_the_issuer_advertised(issuer, given, bound, advertised, warned):
    planned = plan(given, {"OSTIARY_ISSUER": issuer} if issuer else {})
    assert (planned.port, planned.overrides.get("ISSUER"), planned.warning is not None) == (bound, advertised, warned)


def test_the_server_is_gunicorn_or_granian_by_option_or_environment(env):
    for args, environment in [(["--server", "uwsgi"], env), ([], env | {"OSTIARY_SERVER": "uwsgi"})]:
        result = ostiary(environment, "serve", *args)
        assert result.returncode == 2 and "'gunicorn', 'granian'" in result.stderr, result.stderr
