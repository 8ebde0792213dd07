"""A response whose request never started the metrics clock is still counted, without a latency sample."""

from __future__ import annotations

from flask import Response
from prometheus_client import REGISTRY

from app.web.metrics import count_response


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_request_that_ended_before_the_clock_started_is_counted(app):
    labels = {"endpoint": "unmatched", "method": "GET"}
    before = sample("ostiary_http_requests_total", **labels, status="503")
    observed = sample("ostiary_http_request_duration_seconds_count", endpoint="unmatched")
    with app.test_request_context("/nowhere"):
        assert count_response(Response(status=503)).status_code == 503
    assert sample("ostiary_http_requests_total", **labels, status="503") == before + 1
    assert sample("ostiary_http_request_duration_seconds_count", endpoint="unmatched") == observed
