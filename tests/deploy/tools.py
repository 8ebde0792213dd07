"""The deployment files under test, and the system tools that check them (skipped, with the reason, when absent)."""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# Debian installs nginx and systemd-analyze under /usr/sbin and /usr/bin; a non-root PATH may lack /usr/sbin.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])


def tool(name: str, package: str) -> str:
    """The path of a command-line tool, or a skip naming the Debian package that provides it.

    In CI, where .ci/run installs the package, a missing tool fails instead: a skip there would hide the check.
    """
    found = shutil.which(name, path=SEARCH_PATH)
    if found is None:
        reason = f"{name} is not installed (apt-get install {package}; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def substituted(text: str, replacements: list[tuple[str, str]]) -> str:
    """The deployment file with its example values replaced; each one must be there, so the test follows the file."""
    for old, new in replacements:
        assert old in text, f"{old!r} is no longer in the file: update the test's substitutions"
        text = text.replace(old, new)
    return text


def gunicorn_setting(name: str) -> Any:
    """A value from app/gunicorn_conf.py, read without importing it (importing sets PROMETHEUS_MULTIPROC_DIR)."""
    tree = ast.parse((ROOT / "app" / "gunicorn_conf.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise LookupError(name)
