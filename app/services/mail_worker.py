"""The delivery loop of one server process: a daemon thread that drains the outbox, woken by enqueue.

`ostiary serve` starts one per worker after the fork and stops it on graceful shutdown, after the last request
(gunicorn: app/gunicorn_conf.py post_worker_init and worker_exit; granian: app/granian_server.py). Between wake-ups it polls every MAIL_POLL_SECONDS, so
mail queued by another process or node, and retries that fall due, go out too. Any number of loops on
any number of nodes share one outbox safely: each message is claimed by exactly one of them.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from app.extensions import db
from app.mail.transports import transport_for
from app.services.mail_delivery import deliver_due
from app.services.outbox import WORKER

log = logging.getLogger(__name__)
_running: DeliveryWorker | None = None  # this process's loop, for the server's worker hooks


class DeliveryWorker:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.transport = transport_for(app.config)
        self.poll_seconds = app.config["MAIL_POLL_SECONDS"]
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ostiary-mail", daemon=True)

    def start(self) -> DeliveryWorker:
        self.app.extensions[WORKER] = self
        self._thread.start()
        log.info("mail delivery started", extra={"transport": str(self.transport), "poll_seconds": self.poll_seconds})
        return self

    def wake(self) -> None:
        """Deliver now: a message was just committed in this process."""
        self._wake.set()

    def stop(self, timeout_seconds: float) -> bool:
        """Finish the message in hand (if any) and end; True if the thread ended within the time-out.

        A send cut short by the process exiting is not lost: its claim lapses and another loop retries it.
        """
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_seconds)
        if self.app.extensions.get(WORKER) is self:
            del self.app.extensions[WORKER]
        stopped = not self._thread.is_alive()
        log.info("mail delivery stopped" if stopped else "mail delivery still sending at exit")
        return stopped

    def _run(self) -> None:
        while not self._stop.is_set():
            # Cleared before the round: a wake-up during it starts another round instead of being lost.
            self._wake.clear()
            try:
                with self.app.app_context():
                    try:
                        deliver_due(self.transport, stop=self._stop)
                    finally:
                        db.session.remove()
            except Exception:  # a database outage or a bug must not end delivery for this process
                log.warning("mail delivery round failed; retrying in %s s", self.poll_seconds, exc_info=True)
            self._wake.wait(self.poll_seconds)


def start_in_process(app: object) -> None:
    """After the fork (gunicorn post_worker_init, granian's worker loader): one loop for this worker process (nothing for a non-Flask app)."""
    global _running
    if isinstance(app, Flask) and _running is None:
        _running = DeliveryWorker(app).start()


def stop_in_process() -> None:
    """On graceful shutdown (gunicorn worker_exit, granian's drained worker): stop this process's loop, if it runs one."""
    global _running
    if _running is not None:
        _running.stop(_running.app.config["SMTP_TIMEOUT_SECONDS"])
        _running = None
