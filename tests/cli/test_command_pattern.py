"""Every `ostiary` command is built one way: imports at the top, an app context, --json, one-line failures."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from flask.cli import AppGroup

import app.cli
from app.cli import cli
from app.services.clients import GRANT_TYPES
from app.services.pagination import MAX_LIMIT

CLI_DIR = Path(app.cli.__file__).parent


def test_the_command_modules_import_at_the_top():
    """Importing app.cli loads the services anyway: an import inside a function defers nothing."""
    deferred = [
        f"{path.name}:{node.lineno}"
        for path in sorted(CLI_DIR.glob("*.py"))
        for function in ast.walk(ast.parse(path.read_text()))
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert deferred == []


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    for name, found in sorted(group.commands.items()):
        if isinstance(found, click.Group):
            yield from commands(found, (*path, name))
        else:
            yield " ".join((*path, name)), found


def groups(group: click.Group) -> Iterator[click.Group]:
    yield group
    for found in group.commands.values():
        if isinstance(found, click.Group):
            yield from groups(found)


COMMANDS = dict(commands(cli))


def test_every_group_gives_its_commands_an_app_context():
    """Flask's AppGroup wraps each command in with_appcontext: no command repeats the decorator."""
    assert [group.name for group in groups(cli) if not isinstance(group, AppGroup)] == []


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_takes_json(name):
    assert "--json" in {option for param in COMMANDS[name].params for option in param.opts}


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_says_what_it_does_in_help(name):
    assert (COMMANDS[name].get_short_help_str() or "").strip(), name


def json_failure(result, exit_code: int = 1) -> dict[str, str]:
    """Exit status, nothing on stdout, and one JSON object on one line of stderr."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    body = json.loads(line)
    assert set(body) == {"error", "error_description"}, body
    return body


def test_a_refusal_under_json_is_one_json_line(runner):
    result = runner.invoke(cli, ["users", "show", "nobody@example.com", "--json"])
    assert json_failure(result) == {"error": "not_found", "error_description": "no user 'nobody@example.com'"}


def test_a_refusal_of_the_command_itself_under_json_is_json(runner):
    body = json_failure(runner.invoke(cli, ["keys", "remove", "no-such-kid", "--json"]))
    assert body["error"] == "not_found" and "no-such-kid" in body["error_description"]


def test_a_usage_error_under_json_is_json(runner):
    body = json_failure(runner.invoke(cli, ["clients", "create", "--json"]), exit_code=2)
    assert body["error"] == "invalid_request" and "--name" in body["error_description"]


def test_without_json_a_refusal_is_one_plain_line(runner):
    result = runner.invoke(cli, ["users", "show", "nobody@example.com"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "Error: no user 'nobody@example.com'\n"


def test_listings_read_every_page(runner, make):
    """Lists go through all_pages, past the services' largest page."""
    for number in range(MAX_LIMIT + 1):
        make.machine()
    result = runner.invoke(cli, ["clients", "list", "--json"])
    assert len(json.loads(result.stdout)) == MAX_LIMIT + 1


def test_the_grant_types_offered_are_the_services():
    [option] = [param for param in COMMANDS["clients create"].params if param.name == "grant_types"]
    assert tuple(option.type.choices) == GRANT_TYPES
