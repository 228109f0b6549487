"""The command line's entry point: builds only the command a person named, so that `audit`
does not import (and typer does not build) the fifteen others: about 0.1-0.2 s of every run.
Anything else (no command, `--help`, completion, an option it does not know) gets the whole
application, which behaves the same (`tests/test_cli_entry.py`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# the root's options that take a value, as the root parses them (operations/cli/root.py)
VALUE_OPTIONS = ("--codex-home", "--journal")
FLAG_OPTIONS = ("--version",)


def command_named(argv: Sequence[str]) -> str | None:
    """The command `argv` names after the root's options, or None when it names none the table
    has, or the root is given anything but its own options (help, completion, a typo)."""
    from operations.cli.root import COMMANDS

    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in VALUE_OPTIONS:
            index += 2
        elif arg.startswith(tuple(f"{o}=" for o in VALUE_OPTIONS)) or arg in FLAG_OPTIONS:
            index += 1
        elif arg.startswith("-"):
            return None
        else:
            return arg if arg in COMMANDS else None
    return None


def main() -> None:
    if any(key.startswith("_CODEX_SESSIONS_COMPLETE") for key in os.environ):  # shell completion
        name = None
    else:
        name = command_named(sys.argv[1:])
    if name is None:
        from operations.cli.app import app
    else:
        from operations.cli.root import build_app

        app = build_app([name])
    app()
