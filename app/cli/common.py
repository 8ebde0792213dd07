"""The one way an `ostiary` command is built: an app context, --json, and failures as one line."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from app.config import ConfigError
from app.errors import AppError
from app.schema import SchemaNotReady, failure_hint
from app.security.keys import NoSigningKeyError
from app.services import resources
from app.services.pagination import MAX_LIMIT, Page

# Who acts, in the audit trail, when an operator runs a command.
CLI_ACTOR = "cli"
# Set by every command from its --json flag, read by emit() and by the error output.
JSON_OUTPUT = "ostiary.json"


class CommandError(click.ClickException):
    """A refusal: `Error: <description>`, or under --json {"error", "error_description"}, one line on stderr."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.as_json = _json_output()  # shown after the command's context has ended

    def show(self, file: Any = None) -> None:
        if self.as_json:
            click.echo(json.dumps({"error": self.error, "error_description": self.message}), err=True)
        else:
            click.echo(f"Error: {self.message}", err=True)


class CommandUsageError(CommandError):
    """The command was called wrongly (a usage error, or settings that cannot work): exit status 2."""

    exit_code = 2


def refusal(error: str, description: str, exit_code: int = 1) -> CommandError:
    """A click failure (exit status 1 or 2) as a CommandError."""
    return CommandUsageError(error, description) if exit_code == 2 else CommandError(error, description)


class Command(click.Command):
    """A usage error under --json is JSON too: a script parses one shape whatever went wrong."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        as_json = "--json" in args  # before parsing, which consumes the list
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if not as_json:
                raise
            ctx.meta[JSON_OUTPUT] = True
            raise refusal("invalid_request", exc.format_message(), exc.exit_code) from None


def command(name: str, *, needs_app: bool = True, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """An `ostiary` command: run in the app's context (as Flask's AppGroup does) unless needs_app is False,
    with --json, and every failure one line (JSON under --json), never a traceback."""

    def decorator(func: Callable[..., Any]) -> click.Command:
        callback = _one_line_errors(with_appcontext(func) if needs_app else func)
        params = getattr(callback, "__click_params__", [])
        # First in the list is last in --help, after the command's own options.
        callback.__click_params__ = [  # type: ignore[attr-defined]
            click.Option(["--json", "as_json"], is_flag=True, help="Print machine-readable JSON."), *params]
        return click.command(name, cls=Command, **kwargs)(callback)

    return decorator


class Group(AppGroup):
    """A command group of `ostiary`: its commands are built by command(), its subgroups are Groups."""

    def command(self, name: str, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:  # type: ignore[override]
        def decorator(func: Callable[..., Any]) -> click.Command:
            built = command(name, **kwargs)(func)
            self.add_command(built)
            return built

        return decorator

    def group(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Group]:  # type: ignore[override]
        kwargs.setdefault("cls", Group)
        return super().group(*args, **kwargs)


def _json_output() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context and context.meta.get(JSON_OUTPUT))


def _one_line_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> Any:
        context = click.get_current_context()
        context.meta[JSON_OUTPUT] = as_json
        try:
            return func(*args, **kwargs)
        except CommandError:
            raise
        except AppError as exc:
            raise CommandError(exc.error, exc.description) from None
        except ConfigError as exc:
            raise CommandUsageError("invalid_configuration", str(exc)) from None
        except SQLAlchemyError as exc:
            raise CommandError("database_error", database_failure(exc)) from None
        except SchemaNotReady as exc:
            raise CommandError("database_not_ready", str(exc)) from None
        except (NoSigningKeyError, OSError) as exc:
            raise CommandError("server_error", str(exc)) from None
        except click.ClickException as exc:
            if not as_json:
                raise
            raise refusal("invalid_request", exc.format_message(), exc.exit_code) from None

    return wrapper


def database_failure(exc: SQLAlchemyError) -> str:
    """What to do about it, in one line: never the statement or its parameters."""
    return failure_hint(exc, current_app.config["SQLALCHEMY_DATABASE_URI"] if current_app else "")


def emit(payload: Any, text: str) -> None:
    """The command's result: `payload` as JSON under --json, else `text` for a person."""
    click.echo(json.dumps(payload, indent=2) if _json_output() else text)


def warn(text: str) -> None:
    """Something the operator should know that is not the result: on stderr, also under --json."""
    click.echo(f"Warning: {text}", err=True)


def warn_of_undefined_scopes(scope: str) -> None:
    """A principal's API scopes are free-form; one that no registered resource defines is most likely a typo."""
    undefined = resources.undefined_scopes(scope)
    if undefined:
        scopes = " ".join(undefined)
        warn(f"no registered resource defines the scope{'s' if len(undefined) > 1 else ''} {scopes} "
             "(`ostiary resources list` shows the scopes each one defines)")


def all_pages(fetch: Callable[[int, str | None], Page[Any]], at_most: int | None = None) -> list[Any]:
    """Every item of a paginated service listing, fetch(limit, cursor), or its first `at_most`."""
    items: list[Any] = []
    cursor = None
    while at_most is None or len(items) < at_most:
        page = fetch(MAX_LIMIT if at_most is None else min(MAX_LIMIT, at_most - len(items)), cursor)
        items.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return items
