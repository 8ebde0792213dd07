"""deploy/compose.yaml, without a Docker engine: valid against the Compose Specification's JSON Schema, and the
rules this deployment relies on (start order, health checks, volumes, settings Ostiary accepts).

compose-spec.json is schema/compose-spec.json of github.com/compose-spec/compose-spec at commit 170098b
(Apache-2.0), kept here so the check runs offline.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from app.config import ENV_PREFIX, SETTINGS, load_settings
from tests.deploy.test_dockerfile import arguments as dockerfile_arguments
from tests.deploy.tools import DEPLOY, gunicorn_setting

COMPOSE = DEPLOY / "compose.yaml"
SCHEMA = Path(__file__).with_name("compose-spec.json")
# Compose interpolation: $$, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}.
VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")
REQUIRED = {"OSTIARY_ISSUER", "POSTGRES_PASSWORD"}
OPERATOR_VALUES = {"OSTIARY_ISSUER": "https://id.example.com", "POSTGRES_PASSWORD": "0123456789abcdef0123456789abcdef"}


def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def strings(node: Any) -> list[str]:
    """Every string value of the parsed file: where compose interpolates (after parsing, so comments are not)."""
    if isinstance(node, dict):
        return [text for value in node.values() for text in strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in strings(value)]
    return [node] if isinstance(node, str) else []


def interpolate(node: Any, values: dict[str, str]) -> Any:
    """The parsed file as compose sees it with these variables set (the others unset)."""
    if isinstance(node, dict):
        return {key: interpolate(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, values) for value in node]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group("name", "op", "arg")
        if name is None:
            return "$"
        value = values.get(name)
        if op in {":?", "?"} and (value is None or (op == ":?" and value == "")):
            raise LookupError(arg)
        if op in {":-", "-"} and (value is None or (op == ":-" and value == "")):
            return arg
        return value or ""
    return VARIABLE.sub(replace, node)


def interpolated(values: dict[str, str]) -> dict[str, Any]:
    return interpolate(raw(), values)


def test_valid_against_the_compose_specification_schema() -> None:
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    errors = [f"{'/'.join(map(str, error.instance_path))}: {error.message}" for error in validator.iter_errors(raw())]
    assert errors == []


def test_only_the_issuer_and_the_database_password_must_be_set() -> None:
    values = strings(raw())
    malformed = [text for text in values if "$" in VARIABLE.sub("", text)]
    assert not malformed, "a $ that compose would not interpolate"
    required = {m.group("name") for text in values for m in VARIABLE.finditer(text) if m.group("op") in {":?", "?"}}
    assert required == REQUIRED
    for missing in REQUIRED:
        with pytest.raises(LookupError):
            interpolated({k: v for k, v in OPERATOR_VALUES.items() if k != missing})


def test_ostiary_accepts_the_settings_it_is_given() -> None:
    services = interpolated(OPERATOR_VALUES)["services"]
    environment = services["ostiary"]["environment"]
    assert services["init"]["environment"] == environment
    unknown = {name for name in environment if name.removeprefix(ENV_PREFIX) not in SETTINGS}
    assert not unknown, f"not Ostiary settings: {unknown}"
    settings = load_settings({name: str(value) for name, value in environment.items()}, None)
    assert settings["ISSUER"] == OPERATOR_VALUES["OSTIARY_ISSUER"]
    assert settings["TRUSTED_PROXY_HOPS"] == 1  # one proxy: nginx on the host (deploy/nginx.conf)
    assert settings["SECRET_KEY"] is None  # unset: generated into the keys volume, shared by init and serve
    assert "@postgres:5432/" in settings["DATABASE_URL"] and "postgres" in services
    assert settings["REDIS_URL"].startswith("redis://redis:") and "redis" in services


def test_init_runs_once_and_completes_before_serve() -> None:
    services = raw()["services"]
    init, serve = services["init"], services["ostiary"]
    assert init["command"] == ["ostiary", "init"]
    assert init["restart"] == "no"
    assert init["healthcheck"] == {"disable": True}  # the image's probe has no server to reach in a one-shot job
    assert init["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "command" not in serve, "serve runs the image's CMD"
    assert serve["depends_on"] == {
        "init": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    # Not the Unix socket: the image's first-start initialisation runs a temporary server there.
    assert "--host=127.0.0.1" in services["postgres"]["healthcheck"]["test"]


def test_serve_is_reachable_from_the_host_only_and_stops_gracefully() -> None:
    serve = raw()["services"]["ostiary"]
    (port,) = dockerfile_arguments("EXPOSE")
    assert serve["ports"] == [f"127.0.0.1:{port}:{port}"]
    grace = int(serve["stop_grace_period"].removesuffix("s"))
    assert grace > gunicorn_setting("graceful_timeout"), "requests in flight would be cut off"


def test_keys_and_database_are_named_volumes() -> None:
    compose = raw()
    env = " ".join(dockerfile_arguments("ENV"))
    keys_dir = re.search(r"OSTIARY_KEYS_DIR=(\S+)", env).group(1)
    for name in ("init", "ostiary"):
        assert f"keys:{keys_dir}" in compose["services"][name]["volumes"]
    assert "postgres:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert set(compose["volumes"]) == {"keys", "postgres"}
    build = compose["services"]["ostiary"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
