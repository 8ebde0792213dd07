"""Prometheus /metrics: what is counted, by which labels, who may scrape, what it costs, and workers summed."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from app.config import ConfigError, load_settings
from app.serve import SERVERS
from tests.flows import Browser, assert_oauth_error, code_for, exchange_code, refresh, tokens_for
from tests.ops.nodes import worker_pids
from tests.processes import Node, eventually, free_port, ostiary_env, ostiary_json

METRICS_TOKEN = "metrics-scraper-token-0123456789abcdef"
# Measured ~7 µs (one process) and ~10 µs (multiprocess) of CPU here; the bound is for regressions.
MAX_MICROSECONDS_PER_REQUEST = 50


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def client_credentials(client, machine) -> int:
    return client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(machine.client_id, machine.client_secret)).status_code


def test_requests_are_counted_by_endpoint_name_never_by_raw_path(client, make):
    machine = make.machine()
    before = sample("ostiary_http_requests_total", endpoint="oauth.token", method="POST", status="200")
    assert client_credentials(client, machine) == 200
    client.get("/no-such-page-7f3a9")
    client.open("/healthz", method="BREW")

    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.content_type.startswith("text/plain; version=0.0.4")
    assert scraped.headers["Cache-Control"] == "no-store"
    assert sample("ostiary_http_requests_total", endpoint="oauth.token", method="POST", status="200") == before + 1
    assert sample("ostiary_http_request_duration_seconds_count", endpoint="oauth.token") >= 1
    assert sample("ostiary_http_requests_total", endpoint="unmatched", method="GET", status="404") >= 1
    assert sample("ostiary_http_requests_total", endpoint="unmatched", method="other", status="405") >= 1
    assert "no-such-page" not in scraped.text and "BREW" not in scraped.text


def test_tokens_issued_are_counted_by_grant_type_on_success_only(client, make, live_server):
    make.user("counted@example.com")
    registered, machine = make.client(), make.machine()
    before = {grant: sample("ostiary_tokens_issued_total", grant_type=grant)
              for grant in ("client_credentials", "authorization_code", "refresh_token")}

    assert client_credentials(client, machine) == 200
    tokens = tokens_for(live_server, registered, "counted@example.com")
    assert refresh(live_server, registered, tokens["refresh_token"]).status_code == 200
    refused = client.post("/oauth/token", data={"grant_type": "made_up"},
                          auth=(machine.client_id, machine.client_secret))
    assert refused.status_code == 400

    for grant, count in before.items():
        assert sample("ostiary_tokens_issued_total", grant_type=grant) == count + 1, grant
    assert sample("ostiary_tokens_issued_total", grant_type="made_up") == 0


def test_sign_in_failures_are_counted(make, live_server):
    make.user("fumbles@example.com")
    before = sample("ostiary_sign_in_failures_total")
    assert Browser(live_server).login("fumbles@example.com", "not the password").status_code == 401
    assert Browser(live_server).login("nobody@example.com", "not the password").status_code == 401
    assert Browser(live_server).login("fumbles@example.com").status_code == 302
    assert sample("ostiary_sign_in_failures_total") == before + 2


def test_reused_refresh_tokens_and_replayed_codes_are_counted(make, live_server):
    make.user("replay@example.com")
    registered = make.client()
    before_refresh = sample("ostiary_token_reuse_detected_total", token_type="refresh_token")
    before_code = sample("ostiary_token_reuse_detected_total", token_type="authorization_code")

    tokens = tokens_for(live_server, registered, "replay@example.com")
    assert refresh(live_server, registered, tokens["refresh_token"]).status_code == 200
    make.rotated_long_ago(tokens["refresh_token"])  # past the retry grace window
    assert_oauth_error(refresh(live_server, registered, tokens["refresh_token"]), "invalid_grant")
    code, verifier, _ = code_for(live_server, registered, "replay@example.com")
    assert exchange_code(live_server, registered, code, verifier).status_code == 200
    assert_oauth_error(exchange_code(live_server, registered, code, verifier), "invalid_grant")

    assert sample("ostiary_token_reuse_detected_total", token_type="refresh_token") == before_refresh + 1
    assert sample("ostiary_token_reuse_detected_total", token_type="authorization_code") == before_code + 1


@pytest.mark.parametrize(
    ("remote_addr", "headers", "status"),
    [
        ("127.0.0.1", {}, 200),
        ("::1", {}, 200),
        ("10.1.2.3", {}, 200),  # in the configured 10.0.0.0/8
        ("203.0.113.9", {}, 403),
        # Relayed by a proxy on this host: the peer is loopback, the visitor is not.
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, 403),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}, 403),
        ("203.0.113.9", {"Authorization": f"Bearer {METRICS_TOKEN}"}, 200),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9", "Authorization": f"Bearer {METRICS_TOKEN}"}, 200),
        ("203.0.113.9", {"Authorization": f"Bearer {METRICS_TOKEN}x"}, 403),
        ("203.0.113.9", {"Authorization": f"Basic {METRICS_TOKEN}"}, 403),
    ],
)
def test_only_allowlisted_networks_or_the_bearer_token_may_scrape(app, client, monkeypatch, remote_addr, headers,
                                                                   status):
    monkeypatch.setitem(app.config, "METRICS_BEARER_TOKEN", METRICS_TOKEN)
    networks = app.extensions["ostiary.metrics_networks"] + [ipaddress.ip_network("10.0.0.0/8")]
    monkeypatch.setitem(app.extensions, "ostiary.metrics_networks", networks)
    response = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": remote_addr})
    assert response.status_code == status
    if status == 403:
        assert response.get_json()["error"] == "access_denied"
        assert "ostiary_" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32 not-a-network"), ("METRICS_BEARER_TOKEN", "too-short")],
)
def test_bad_metrics_settings_stop_the_start_naming_the_variable(variable, value):
    with pytest.raises(ConfigError, match=f"OSTIARY_{variable}"):
        load_settings({f"OSTIARY_{variable}": value}, None)


MEASURE = textwrap.dedent("""
    import time
    from app.metrics import instruments
    metric = instruments()
    def one_request():
        metric.in_progress.inc()
        metric.requests.labels("oauth.token", "POST", "200").inc()
        metric.latency.labels("oauth.token").observe(0.002)
        metric.in_progress.dec()
    for _ in range(2000):
        one_request()
    runs = 20000
    started = time.process_time()  # CPU time: other processes on a busy machine do not count
    for _ in range(runs):
        one_request()
    print((time.process_time() - started) / runs * 1e6)
""")


@pytest.mark.parametrize("multiprocess", [False, True], ids=["one-process", "gunicorn-multiprocess"])
def test_recording_a_request_costs_microseconds(tmp_path, multiprocess, capsys):
    """What count_response and the in-progress gauge add to every request, in both storage modes."""
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)} if multiprocess else {}
    result = subprocess.run([sys.executable, "-c", MEASURE], env={"PATH": "/usr/bin:/bin", **env},
                            capture_output=True, text=True, timeout=120, check=True, cwd=Path(__file__).parents[2])
    microseconds = float(result.stdout)
    with capsys.disabled():
        print(f"\nmetrics per request ({'multiprocess' if multiprocess else 'one process'}): {microseconds:.1f} µs")
    assert microseconds < MAX_MICROSECONDS_PER_REQUEST


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(f"{url}/metrics", timeout=5)
    assert response.status_code == 200, response.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


@pytest.mark.parametrize("server", SERVERS)
def test_workers_are_summed_and_a_dead_worker_stops_counting_as_busy(tmp_path, server):
    port = free_port()
    env = ostiary_env(f"sqlite:///{tmp_path / 'metrics.db'}", tmp_path / "keys", port)
    ostiary_json(env, "init")
    machine = ostiary_json(env, "clients", "create", "--name", "scraped", "--grant-type", "client_credentials",
                           "--scope", "api:read")
    with Node(env, tmp_path / "node.log", workers=2, threads=2, port=port, server=server) as node:
        metrics_dir = Path(tempfile.gettempdir()) / f"ostiary-metrics-{node.process.pid}"
        # A new connection per request: the kernel spreads them over both workers' accept queues.
        for _ in range(40):
            response = requests.post(f"{node.url}/oauth/token", data={"grant_type": "client_credentials"},
                                     auth=(machine["client_id"], machine["client_secret"]), timeout=10)
            assert response.status_code == 200, response.text
        workers = worker_pids(node.process.pid)
        counted_by = {int(m.group(1)) for f in metrics_dir.glob("counter_*.db")
                      if (m := re.fullmatch(r"counter_(\d+)\.db", f.name))}
        assert set(workers) <= counted_by, (workers, counted_by)

        issued = ("ostiary_tokens_issued_total", (("grant_type", "client_credentials"),))
        assert scrape(node.url)[issued] == 40

        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        pid = node.process.pid
        eventually(lambda: victim not in worker_pids(pid) and len(worker_pids(pid)) >= 2, timeout=20, interval=0.1,
                   what="the master replaces the killed worker")
        after = scrape(node.url)
        assert after[issued] == 40  # the dead worker's tokens stay in the total
        assert not (metrics_dir / f"gauge_livesum_{victim}.db").exists()
        assert after[("ostiary_http_requests_in_progress", ())] == 1  # only this scrape
    assert not metrics_dir.exists(), "the master removes the directory it made"


GUNICORN_SETTINGS = textwrap.dedent("""
    import json, os
    from app.serve import OstiaryServer
    cfg = OstiaryServer({"bind": "127.0.0.1:9", "threads": 3}).cfg
    print(json.dumps({"workers": cfg.workers, "threads": cfg.threads, "keepalive": cfg.keepalive,
                      "worker_class": cfg.worker_class_str, "forwarded_allow_ips": cfg.forwarded_allow_ips,
                      "control_socket_disable": cfg.control_socket_disable, "child_exit": cfg.child_exit.__module__,
                      "metrics_dir": os.environ["PROMETHEUS_MULTIPROC_DIR"], "pid": os.getpid()}))
""")


def test_serve_reads_the_config_file_then_gunicorn_cmd_args_then_its_own_options():
    environment = {"PATH": "/usr/bin:/bin", "GUNICORN_CMD_ARGS": "--keep-alive 650 --threads 7", "WEB_CONCURRENCY": "3"}
    result = subprocess.run([sys.executable, "-c", GUNICORN_SETTINGS], env=environment, capture_output=True, text=True,
                            timeout=60, check=True, cwd=Path(__file__).parents[2])
    cfg = json.loads(result.stdout)
    assert cfg["workers"] == 3 and cfg["worker_class"] == "gthread"  # the file (WEB_CONCURRENCY)
    assert cfg["keepalive"] == 650  # GUNICORN_CMD_ARGS over the file
    assert cfg["threads"] == 3  # `ostiary serve --threads` over GUNICORN_CMD_ARGS
    assert cfg["forwarded_allow_ips"] == [] and cfg["control_socket_disable"] is True
    assert cfg["child_exit"] == "app.gunicorn_conf"
    assert cfg["metrics_dir"] == f"/tmp/ostiary-metrics-{cfg['pid']}"
