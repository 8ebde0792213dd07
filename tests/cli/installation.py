"""The installed `ostiary` console script, run as an operator runs it: a subprocess with its own environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

OSTIARY = Path(sys.executable).with_name("ostiary")
PASSWORD = "a long enough password"


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OSTIARY), *args], env=env, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60, check=False,
    )


def ok_json(result: subprocess.CompletedProcess[str]):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
