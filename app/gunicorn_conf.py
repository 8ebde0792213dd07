"""gunicorn settings, read by `ostiary serve` and by `gunicorn -c python:app.gunicorn_conf wsgi:app`.

Precedence, lowest first: this file, GUNICORN_CMD_ARGS, then command-line flags. Only the standard
library is imported here: gunicorn may load this file by path, before the app is importable.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from typing import Any


def _cpus() -> int:
    """CPUs this process may run on (a container's CPU set, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# One worker process per CPU. A token response is CPU work under the GIL: RS256 signing (~0.3 ms) plus
# Flask, Authlib and the ORM (~1.5 ms); a second process per core adds context switches, not tokens/s.
# On the 2-vCPU reference box that is 2 workers. WEB_CONCURRENCY is the usual platform override.
workers = int(os.environ.get("WEB_CONCURRENCY", _cpus()))

# gthread keeps client connections alive (the sync worker closes every one, so each request pays a
# new TCP handshake and the load balancer a new connection) and parks idle ones in a poller, not a thread.
worker_class = "gthread"
# Threads overlap what does not hold the GIL: PostgreSQL round trips and argon2id (a sign-in is ~150 ms
# of argon2 that releases the GIL). More than 4 only queue on the GIL for the CPU-bound token work.
threads = 4

# Behind a load balancer the balancer must close idle connections first: if the server closes one the
# balancer is about to reuse, that request fails (a 502). 75 s outlasts the common 60 s idle timeouts
# (AWS ALB, nginx upstream keepalive_timeout); raise it for balancers that keep longer (GCP: 600 s).
keepalive = 75

# A worker silent this long (its main loop stuck) is killed and replaced. Requests are bounded well
# below it: the database connect timeout is 3 s and its statement timeout 10 s.
timeout = 30
# On SIGTERM, workers finish the requests in flight for up to this long; keep it below the
# orchestrator's kill deadline (Kubernetes: 30 s) so no accepted request is cut off.
graceful_timeout = 20

# Each worker creates its own app after the fork: database pools, key files and metric storage are
# never shared across processes.
preload_app = False

# The heartbeat file is touched every second; on a disk-backed /tmp (containers) that can stall a worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# X-Forwarded-* is interpreted in one place only, Werkzeug's ProxyFix sized by OSTIARY_TRUSTED_PROXY_HOPS;
# gunicorn would otherwise also trust X-Forwarded-Proto from any loopback peer.
forwarded_allow_ips = ""

# The default control socket path is per user ($HOME/.gunicorn/gunicorn.ctl): two instances on one host
# (two nodes, a test next to a server) would take it from each other. Manage workers with signals.
control_socket_disable = True

# The app writes one JSON access-log line per request (app/web/request_log.py).
accesslog = None

# Prometheus: every worker writes its metrics to files in this directory; /metrics sums them. It must
# be set before a worker imports prometheus_client, hence here in the master, once per master.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_OWN_METRICS_DIR = os.path.join(tempfile.gettempdir(), f"ostiary-metrics-{os.getpid()}")
os.environ.setdefault(METRICS_DIR_ENV, _OWN_METRICS_DIR)


def on_starting(server: Any) -> None:
    """Before the first worker: start the counts from zero (files left by an earlier run would be summed)."""
    path = os.environ[METRICS_DIR_ENV]
    os.makedirs(path, mode=0o700, exist_ok=True)
    for leftover in glob.glob(os.path.join(path, "*.db")):
        os.remove(leftover)


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's requests are no longer in progress; its counters stay in the totals."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the metrics directory this master made; an operator's own directory is left alone."""
    if os.environ.get(METRICS_DIR_ENV) == _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)


def post_worker_init(worker: Any) -> None:
    """After the fork, once this worker's app is loaded: its mail delivery loop (README "Email delivery"), and the
    app's error page for the requests gunicorn refuses itself (a request line over limit_request_line: 414)."""
    from app.services.mail_worker import start_in_process
    from app.web.server_pages import install

    start_in_process(worker.wsgi)
    install(worker.wsgi)


def worker_exit(server: Any, worker: Any) -> None:
    """On graceful shutdown, after the last request: the loop finishes the message in hand and ends.

    gunicorn may also call this in the master (for a worker that vanished), where no app was ever imported.
    """
    import sys

    if "app.services.mail_worker" in sys.modules:
        sys.modules["app.services.mail_worker"].stop_in_process()
