"""deploy/Dockerfile, without a Docker engine: the properties that matter read from the file, and its install
steps replayed on the files it copies (a fresh virtualenv, `pip install -e .`, `ostiary init`)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from app import MIGRATIONS_DIR
from tests.deploy.tools import DEPLOY, ROOT

DOCKERFILE = DEPLOY / "Dockerfile"
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE", re.IGNORECASE)


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, backslash continuations joined."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        logical.append(pending.strip())
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return [(word.upper(), rest.strip()) for word, _, rest in (line.partition(" ") for line in logical)]


def arguments(name: str) -> list[str]:
    return [rest for instruction, rest in instructions() if instruction == name]


def exec_form(text: str) -> list[str]:
    """A JSON-array (exec form) CMD or HEALTHCHECK CMD: no shell in between, so signals reach gunicorn."""
    command = json.loads(text)
    assert isinstance(command, list) and all(isinstance(part, str) for part in command), text
    return command


def copied_sources() -> list[str]:
    sources: list[str] = []
    for rest in arguments("COPY"):
        words = [word for word in shlex.split(rest) if not word.startswith("--")]
        sources += [word.rstrip("/") for word in words[:-1]]
    return sources


def healthcheck_command() -> list[str]:
    (healthcheck,) = arguments("HEALTHCHECK")
    command = healthcheck.partition("CMD ")[2]
    return exec_form(command)


def test_slim_python_3_11_base() -> None:
    (base,) = arguments("FROM")
    assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?", base), base


def test_runs_as_a_fixed_non_root_user() -> None:
    users = arguments("USER")
    assert users, "no USER: the server would run as root"
    user = users[-1].partition(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric uid lets Kubernetes' runAsNonRoot verify it"
    assert f"--uid {user}" in " ".join(arguments("RUN")), "the uid is created in the image"


def test_serves_on_all_interfaces_on_the_exposed_port() -> None:
    (cmd,) = arguments("CMD")
    command = exec_form(cmd)
    assert command[:2] == ["ostiary", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert arguments("EXPOSE") == [port]
    assert f"127.0.0.1:{port}/readyz" in " ".join(healthcheck_command())


def test_healthcheck_probes_readiness_with_the_standard_library_only() -> None:
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    imported = set(re.findall(r"import ([\w., ]+)", command[2])[0].replace(" ", "").split(","))
    assert imported <= set(sys.stdlib_module_names) | {"urllib.request"}, imported
    assert "/readyz" in command[2]


def test_no_keys_database_or_secret_in_the_image() -> None:
    for source in copied_sources():
        assert source not in {".", "keys", "instance"} and not fnmatch(source, "*.db"), source
        assert not fnmatch(source, "*.pem") and ".env" not in source, source
    for rest in arguments("ENV") + arguments("ARG"):
        assert not SECRET_NAMES.search(rest), f"a secret would be baked into the image: {rest}"
    volumes = json.loads(arguments("VOLUME")[0])
    env = " ".join(arguments("ENV"))
    keys_dir = re.search(r"OSTIARY_KEYS_DIR=(\S+)", env).group(1)
    database_file = re.search(r"OSTIARY_DATABASE_URL=sqlite:///(\S+)", env).group(1)
    assert keys_dir in volumes
    assert str(Path(database_file).parent) in volumes


def test_installs_the_project_without_the_test_extra() -> None:
    installs = [rest for rest in arguments("RUN") if "pip install" in rest]
    assert installs and not any("[test]" in rest or "requirements" in rest for rest in installs), installs


def test_build_context_excludes_what_is_not_copied() -> None:
    """BuildKit reads deploy/Dockerfile.dockerignore: everything is excluded, then only the copied paths return."""
    lines = [line for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines[0] == "*"
    assert {line[1:].rstrip("/") for line in lines if line.startswith("!")} == set(copied_sources())
    for secret in ("**/*.db", "**/*.pem", "**/flask-secret-key"):
        assert secret in lines


def test_copies_everything_the_package_needs() -> None:
    """The metadata's licence files and the migrations `ostiary init` runs are in the image, not only in a checkout."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", *project["project"]["license-files"], str(MIGRATIONS_DIR.relative_to(ROOT)),
              *(pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"])}
    assert needed <= set(copied_sources())


def test_install_steps_on_the_copied_files_give_a_working_ostiary_init(tmp_path: Path) -> None:
    """The image's build and `init`, replayed without Docker: only the COPY sources, `pip install -e .`, `ostiary init`.

    The new virtualenv borrows this one's installed dependencies (a .pth line) instead of downloading them, so it
    tests what the Dockerfile decides: which files are copied and how the project itself is installed.
    """
    source = tmp_path / "opt-ostiary"
    source.mkdir()
    for path in copied_sources():
        subprocess.run(["cp", "-r", str(ROOT / path), str(source / path)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "-e", "."], cwd=source,
                               capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0, installed.stderr

    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")} | {
        "OSTIARY_KEYS_DIR": str(tmp_path / "data" / "keys"),
        "OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'ostiary.db'}",
    }
    (tmp_path / "data").mkdir()
    init = subprocess.run([str(venv / "bin" / "ostiary"), "init", "--json"], cwd=tmp_path / "data", env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["database"] == "migrated"
    imported_from = subprocess.run([str(venv / "bin" / "python"), "-c", "import app; print(app.__file__)"],
                                   cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(imported_from).is_relative_to(source), "the copied code ran, not this checkout's"
    assert (tmp_path / "data" / "keys").stat().st_mode & 0o777 == 0o700
