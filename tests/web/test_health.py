"""Liveness and readiness."""

from __future__ import annotations


def test_healthz_and_readyz_report_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "checks": {"database": "ok", "keys": "ok"}}
