"""deploy/nginx.conf run for real: its example values replaced by a temporary prefix, certificate and ports."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.tls import Certificates
from tests.deploy.tools import DEPLOY, substituted, tool
from tests.processes import eventually

EXAMPLE_HOST = "id.example.com"
START_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Proxy:
    """Where the rendered example listens: https on one port, the http redirect on another, both on 127.0.0.1."""

    https_port: int
    http_port: int
    upstream_port: int

    @property
    def issuer(self) -> str:
        return f"https://localhost:{self.https_port}"


def site_config(proxy: Proxy, certificates: Certificates) -> str:
    """The example with exactly what a deployment changes: its host name, certificate, ports and upstream address.

    The issuer here has a port (https://localhost:<port>), so the Host nginx sends carries it too, as the
    example's comment asks for an issuer with a port.
    """
    text = (DEPLOY / "nginx.conf").read_text()
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("listen [::]:"))
    return substituted(text, [
        ("server 127.0.0.1:8000 ", f"server 127.0.0.1:{proxy.upstream_port} "),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{proxy.https_port} ssl http2;"),
        ("listen 443 ssl default_server;", f"listen 127.0.0.1:{proxy.https_port} ssl default_server;"),
        ("listen 80;", f"listen 127.0.0.1:{proxy.http_port};"),
        ("listen 80 default_server;", f"listen 127.0.0.1:{proxy.http_port} default_server;"),
        (f"proxy_set_header Host {EXAMPLE_HOST};", f"proxy_set_header Host localhost:{proxy.https_port};"),
        (f"return 301 https://{EXAMPLE_HOST}$request_uri;", f"return 301 {proxy.issuer}$request_uri;"),
        (f"/etc/ssl/certs/{EXAMPLE_HOST}.fullchain.pem", str(certificates.chain)),
        (f"/etc/ssl/private/{EXAMPLE_HOST}.key", str(certificates.key)),
        (f"server_name {EXAMPLE_HOST};", "server_name localhost;"),
    ])


def main_config(prefix: Path, site: Path) -> str:
    """The rest of an nginx.conf, everything in the prefix: the example is included as conf.d would include it."""
    # As root (CI), workers would switch to nobody, who cannot enter pytest's private temporary directories.
    user = "user root;" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                               "uwsgi", "scgi"))
    return f"""
daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} notice;
{user}
events {{ worker_connections 128; }}
http {{
    access_log {prefix / "access.log"};
{temp_paths}
    include {site};
}}
"""


def write_config(prefix: Path, proxy: Proxy, certificates: Certificates) -> Path:
    site = prefix / "ostiary.conf"
    site.write_text(site_config(proxy, certificates))
    config = prefix / "nginx.conf"
    config.write_text(main_config(prefix, site))
    return config


def check_config(config: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t`: parses the configuration, opens the certificates and files, binds nothing."""
    return subprocess.run([tool("nginx", "nginx"), "-t", "-p", str(config.parent), "-e", "stderr", "-c",
                           str(config)], capture_output=True, text=True, timeout=30, check=False)


@contextmanager
def running(config: Path, proxy: Proxy) -> Iterator[None]:
    log = (config.parent / "stderr.log").open("wb")
    process = subprocess.Popen([tool("nginx", "nginx"), "-p", str(config.parent), "-e", "stderr", "-c", str(config)],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        def listening() -> bool:
            assert process.poll() is None, (config.parent / "stderr.log").read_text()
            socket.create_connection(("127.0.0.1", proxy.https_port), timeout=1).close()
            return True

        eventually(listening, timeout=START_TIMEOUT_SECONDS, what="nginx listening", ignoring=(OSError,))
        yield
    finally:
        process.terminate()  # nginx's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
