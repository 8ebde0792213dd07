"""deploy/*.service and *.timer: parsed and checked by systemd's own `systemd-analyze verify`, and their sandboxing
scored by `systemd-analyze security --offline` (neither needs a running systemd)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.tools import DEPLOY, gunicorn_setting, substituted, tool

UNITS = ("ostiary.service", "ostiary-purge.service", "ostiary-purge.timer")
INSTALLED_OSTIARY = "/opt/ostiary/.venv/bin/ostiary"
# systemd's exposure score, 0.0 (fully sandboxed) to 10.0, in tenths; above 4.9 systemd calls it "MEDIUM".
MAX_EXPOSURE = {"ostiary.service": 20, "ostiary-purge.service": 40}


@pytest.fixture
def units(tmp_path: Path) -> Path:
    """The units with ExecStart pointing at this virtualenv's `ostiary` (verify checks that the command exists)."""
    here = str(Path(sys.executable).with_name("ostiary"))
    for name in UNITS:
        text = (DEPLOY / name).read_text()
        if name.endswith(".service"):
            text = substituted(text, [(f"ExecStart={INSTALLED_OSTIARY}", f"ExecStart={here}")])
        (tmp_path / name).write_text(text)
    return tmp_path


def test_units_pass_systemd_analyze_verify(units: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    result = subprocess.run([analyze, "verify", *(str(units / name) for name in UNITS)],
                            capture_output=True, text=True, timeout=60, check=False)
    # verify exits 0 on a directive it ignores (a typo, a bad value) but says so: any message is a failure.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("name", sorted(MAX_EXPOSURE))
def test_services_are_sandboxed(units: Path, name: str) -> None:
    analyze = tool("systemd-analyze", "systemd")
    result = subprocess.run([analyze, "security", "--offline=true", f"--threshold={MAX_EXPOSURE[name]}",
                             str(units / name)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout[-600:] + result.stderr


def directives(name: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if re.match(r"[A-Za-z]+=", line):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_serve_unit_matches_gunicorn_and_the_proxy() -> None:
    unit = directives("ostiary.service")
    assert unit["Type"] == ["notify"]  # gunicorn's master sends READY=1
    assert unit["User"] == ["ostiary"]
    assert unit["ExecStart"] == [f"{INSTALLED_OSTIARY} serve --host 127.0.0.1 --port 8000"]
    assert int(unit["TimeoutStopSec"][0].removesuffix("s")) > gunicorn_setting("graceful_timeout")
    assert unit["KillMode"] == ["mixed"]
    assert unit["StateDirectoryMode"] == ["0700"]
    assert "OSTIARY_KEYS_DIR=/var/lib/ostiary/keys" in unit["Environment"]
    assert "server 127.0.0.1:8000" in (DEPLOY / "nginx.conf").read_text()


def test_purge_runs_hourly_from_the_timer() -> None:
    assert directives("ostiary-purge.service")["ExecStart"] == [f"{INSTALLED_OSTIARY} purge --json"]
    assert directives("ostiary-purge.timer")["OnCalendar"] == ["hourly"]
    assert directives("ostiary-purge.service")["EnvironmentFile"] == directives("ostiary.service")["EnvironmentFile"]
