"""`ostiary serve --server granian`: granian's WSGI interface with what app/gunicorn_conf.py gives gunicorn.

granian (a Rust HTTP server) has no worker hooks, so this module supplies them: the worker's app is built by the
loader granian calls after the fork (no preload), with its mail delivery loop; the loop stops once granian has
drained the worker's connections; a heartbeat lets the master kill a worker whose Python is stuck, which granian
then respawns; a replaced worker is marked dead for Prometheus; systemd hears when the server is ready. The
numbers (workers, threads, keep-alive, time-outs) are gunicorn_conf's, so both servers are sized alike. Pinned to
one granian release: the hooks use its MPServer's worker target, start-up and respawn steps.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.server.mp import MPServer
from gunicorn.systemd import sd_notify  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
# gunicorn's defaults: the listen queue, and the connections one worker holds open.
BACKLOG = 2048
CONNECTIONS_PER_WORKER = 1000
# Every line granian and this module write is JSON, as the app's are (app/logs.py); no access log.
LOG_CONFIG = {
    "formatters": {"generic": {"()": "app.logs.JSONFormatter"}},
    "handlers": {"console": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
    "loggers": {
        "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
        __name__: {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}


class OstiaryGranian(MPServer):
    def __init__(self, *args: Any, heartbeats: Path, stuck_after: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heartbeats = heartbeats
        self.stuck_after = stuck_after

    def startup(self, *args: Any, **kwargs: Any) -> None:
        """Listening, workers spawned: tell systemd (Type=notify, deploy/ostiary.service), as gunicorn's master does."""
        super().startup(*args, **kwargs)
        sd_notify("READY=1\nSTATUS=granian workers spawned", log)

    def _respawn_workers(self, workers: list[int], *args: Any, **kwargs: Any) -> None:
        """A replaced worker (crashed, killed as stuck, or reloaded by SIGHUP) no longer has requests in progress:
        its livesum gauges leave the sum, as gunicorn's child_exit hook does; its counters stay in the totals."""
        from prometheus_client import multiprocess

        replaced = [self.wrks[idx] for idx in workers]
        for worker in replaced:
            if not worker.is_alive():
                multiprocess.mark_process_dead(worker.inner.pid)
        super()._respawn_workers(workers, *args, **kwargs)
        for worker in replaced:
            multiprocess.mark_process_dead(worker.inner.pid)
            (self.heartbeats / str(worker.inner.pid)).unlink(missing_ok=True)

    def watch_heartbeats(self) -> None:
        """Kill a worker whose heartbeat is stuck_after seconds old (gunicorn's `timeout`); granian respawns it."""
        def watch() -> None:
            while True:
                time.sleep(HEARTBEAT_SECONDS)
                for worker in list(self.wrks):
                    pid = worker.inner.pid
                    try:
                        silent = time.monotonic() - (self.heartbeats / str(pid)).stat().st_mtime
                    except FileNotFoundError:  # still loading its app
                        continue
                    if silent > self.stuck_after and worker.is_alive():
                        log.error("worker silent for %.0f s: killed", silent, extra={"pid": pid})
                        os.kill(pid, signal.SIGKILL)

        threading.Thread(target=watch, name="ostiary-heartbeats", daemon=True).start()


def run(host: str, port: int, workers: int | None, threads: int | None, overrides: dict[str, Any]) -> None:
    """Serve until SIGTERM/SIGINT: workers finish their requests (up to graceful_timeout), then stop."""
    from app import gunicorn_conf as conf  # sets PROMETHEUS_MULTIPROC_DIR for this master

    address = free_address(host, port)
    workers = conf.workers if workers is None else workers
    threads = conf.threads if threads is None else threads
    heartbeats = Path(tempfile.mkdtemp(prefix="ostiary-heartbeats-", dir=conf.worker_tmp_dir))
    try:
        server = OstiaryGranian(
            "ostiary", address=address, port=port, interface=Interfaces.WSGI, http=HTTPModes.http1, websockets=False,
            workers=workers, blocking_threads=threads, backlog=BACKLOG, backpressure=CONNECTIONS_PER_WORKER,
            # hyper closes a connection whose next request has not arrived in this time: the keep-alive.
            http1_settings=HTTP1Settings(header_read_timeout=conf.keepalive * 1000),
            respawn_failed_workers=True, workers_kill_timeout=conf.graceful_timeout,
            log_dictconfig=LOG_CONFIG, log_access=False, heartbeats=heartbeats, stuck_after=conf.timeout,
        )
        conf.on_starting(server)
        server.watch_heartbeats()
        server.serve(spawn_target=serve_worker, target_loader=partial(load_worker, overrides, heartbeats),
                     wrap_loader=False)
    finally:
        shutil.rmtree(heartbeats, ignore_errors=True)
        conf.on_exit(None)


def free_address(host: str, port: int) -> str:
    """The address to bind, checked free. granian binds every worker with SO_REUSEPORT, so a second server on the
    same port would silently share it with the first; a bind without that option fails while anyone listens."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT do not count
        try:
            probe.bind(address)
        except OSError as exc:
            raise OSError(f"{host}:{port} is in use: {exc.strerror}") from None
    return str(address[0])


def load_worker(overrides: dict[str, Any], heartbeats: Path) -> Any:
    """In the worker, after the fork: its own app, its mail delivery loop and its heartbeat."""
    from app import create_app
    from app.services.mail_worker import start_in_process
    from app.web.request_limits import RequestLimits

    app = create_app(overrides)
    start_in_process(app)
    threading.Thread(target=beat, args=(heartbeats / str(os.getpid()),), name="ostiary-heartbeat", daemon=True).start()
    return RequestLimits(app)


def beat(path: Path) -> None:
    """The master reads the time from the file's mtime: the monotonic clock, which jumps of the wall clock spare."""
    path.touch()
    while True:
        now = time.monotonic()
        os.utime(path, (now, now))
        time.sleep(HEARTBEAT_SECONDS)


def serve_worker(*args: Any) -> None:
    """granian's WSGI worker; it returns once SIGTERM has stopped it and its connections are done. Then the mail
    loop finishes the message in hand and ends."""
    from app.services.mail_worker import stop_in_process

    try:
        MPServer._spawn_wsgi_worker(*args)
    finally:
        stop_in_process()
