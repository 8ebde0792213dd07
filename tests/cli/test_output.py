"""What an operator sees: results on stdout, nothing of the server's log on the terminal."""

from __future__ import annotations

import re

import pytest

from app.cli import cli
from tests.factories import DEFAULT_PASSWORD
from tests.processes import ok_json, ostiary


@pytest.fixture
def fresh(env: dict[str, str], tmp_path) -> dict[str, str]:
    """An installation whose database is not initialised yet."""
    return env | {"OSTIARY_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}


def test_log_lines_stay_off_the_terminal(fresh):
    """The migrations' and the audit trail's JSON log lines are for the server's log collector."""
    initialised = ostiary(fresh, "init")
    assert (initialised.returncode, initialised.stderr) == (0, "")
    created = ostiary(fresh, "users", "create", "ann@example.com", "--password-stdin", stdin=DEFAULT_PASSWORD + "\n")
    assert (created.returncode, created.stderr) == (0, ""), created.stderr
    # The command is still audited: its row is in the trail.
    assert [e["event"] for e in ok_json(ostiary(fresh, "audit", "list", "--json"))] == ["user.created"]


ISO_WITH_HINT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \((just now|\d+ \w+ ago|in \d+ \w+)\)")
REPRS = ("None", "True", "False", "[", "]", "{", "'")


def human(runner, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def columns(text: str) -> tuple[list[str], list[list[str]]]:
    """The header's words and each line's cells, asserting that every cell starts under its header."""
    header, *lines = text.splitlines()
    starts = [match.start() for match in re.finditer(r"\S+( \S+)*", header)]
    names = [header[start:end].strip() for start, end in zip(starts, [*starts[1:], None], strict=True)]
    rows = []
    for line in lines:
        assert all(line[start - 1:start] in ("", " ") for start in starts), (header, line)
        rows.append([line[start:end].strip() for start, end in zip(starts, [*starts[1:], None], strict=True)])
    return names, rows


def test_show_is_one_readable_field_per_line(runner, make):
    make.user("pat@example.com", roles=["billing", "support"])
    shown = human(runner, "users", "show", "pat@example.com")
    assert not [line for line in shown.splitlines() if any(repr_ in line for repr_ in REPRS)], shown
    fields = dict(line.split(None, 1) if " " in line.strip() else (line.strip(), "") for line in shown.splitlines())
    assert fields["roles"] == "billing support" and fields["email_verified"] == "no"
    assert ISO_WITH_HINT.fullmatch(fields["created_at"]), fields["created_at"]


def test_lists_are_aligned_columns_under_a_header(runner, make):
    make.user("ann@example.com", name="Ann")
    make.user("bartholomew.long-name@example.com", roles=["admin"])
    names, rows = columns(human(runner, "users", "list"))
    assert names[:2] == ["SUB", "EMAIL"] and "CREATED" in names
    assert [row[1] for row in rows] == ["ann@example.com", "bartholomew.long-name@example.com"]
    assert all(ISO_WITH_HINT.fullmatch(row[names.index("CREATED")]) for row in rows)


@pytest.mark.parametrize("group", ["users", "clients", "resources", "service-accounts", "api-keys", "audit", "keys",
                                   "mail"])
def test_every_list_has_a_header_or_says_it_is_empty(runner, make, group):
    make.user("ann@example.com", scope="x:y")
    make.machine()
    make.resource()
    make.service_account()
    runner.invoke(cli, ["api-keys", "create", "--owner", "ann@example.com", "--name", "k", "--scope", "x:y"])
    text = human(runner, group, "list")
    assert text.startswith(("No ", "The outbox is empty")) or text.split()[0].isupper(), text
    assert not any(repr_ in text for repr_ in ("None", "True", "False", "{", "'")), text
