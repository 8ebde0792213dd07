"""ARCHITECTURE.md, "One way out of the process": no module outside app/egress imports an HTTP client."""

from __future__ import annotations

import ast
from pathlib import Path

import app

HTTP_CLIENTS = {
    "requests", "urllib3", "httpx", "httpcore", "aiohttp", "http.client", "urllib.request", "pycurl",
    "authlib.integrations.requests_client", "authlib.integrations.httpx_client",
}
PACKAGE = Path(app.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_app_egress_imports_an_http_client() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            name for name in _imports(path) if any(name == c or name.startswith(c + ".") for c in HTTP_CLIENTS)
        )
        for path in PACKAGE.rglob("*.py")
        if PACKAGE / "egress" not in path.parents
    }
    assert {path: names for path, names in offenders.items() if names} == {}
