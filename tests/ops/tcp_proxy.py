"""A TCP proxy with a switch: PostgreSQL can go away for one test while the shared server keeps running."""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    """127.0.0.1:<port> to PostgreSQL, with a switch."""

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self.mode = "forward"
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._listen()

    def _listen(self) -> None:
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            self._track(client)
            if self.mode == "silent":
                continue  # held open, never answered
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                self._close(client)
                continue
            self._track(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(target)

    def _track(self, sock: socket.socket) -> None:
        with self.lock:
            self.open.add(sock)

    def _close(self, sock: socket.socket) -> None:
        with self.lock:
            self.open.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def cut(self, mode: str) -> None:
        """Drop every connection; then refuse new ones ("refused") or swallow them ("silent")."""
        self.mode = mode
        if mode == "refused":
            self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
        with self.lock:
            doomed = list(self.open)
        for sock in doomed:
            self._close(sock)

    def restore(self) -> None:
        was = self.mode
        self.mode = "forward"
        if was == "refused":
            self.listener = socket.create_server(("127.0.0.1", self.port))
            self._listen()
        with self.lock:
            swallowed = list(self.open) if was == "silent" else []
        for sock in swallowed:
            self._close(sock)

    def close(self) -> None:
        self.cut("refused")
