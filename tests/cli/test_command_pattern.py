"""Every `ostiary` command is built one way: imports at the top, an app context, --json, one-line failures."""

from __future__ import annotations

import ast
from pathlib import Path

import app.cli

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
