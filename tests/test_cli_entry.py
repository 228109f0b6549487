"""The command line's entry point builds only the command named (`operations.cli.entry`): for
every command, what that one-command application prints and exits with is what the whole
application does, and anything it does not recognise goes to the whole application."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import typer.main

from operations.cli.app import app
from operations.cli.entry import command_named
from operations.cli.root import COMMANDS, build_app
from tests.helpers import runner


def _invoke(application: typer.Typer, args: list[str]) -> tuple[int, str]:
    saved = sys.argv
    sys.argv = ["codex-sessions", *args]
    try:
        result = runner.invoke(application, args)
    finally:
        sys.argv = saved
    return result.exit_code, result.stdout


def _subcommands(name: str) -> list[str]:
    group: Any = typer.main.get_command(app)
    command = group.commands[name]
    return sorted(getattr(command, "commands", {}))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_one_command_behaves_as_in_the_whole_application(name: str) -> None:
    alone = build_app([name])
    for args in ([name, "--help"], [name, "--no-such-option", "--json"], [name, "--no-such-option"],
                 ["--codex-home", "/nowhere", name, "--help"],
                 *([name, sub, "--help"] for sub in _subcommands(name))):
        assert _invoke(alone, args) == _invoke(app, args), args
    whole: Any = typer.main.get_command(app)
    assert list(typer.main.get_command(alone).commands) == [name]  # type: ignore[attr-defined]
    assert name in whole.commands


def test_the_table_is_the_whole_application() -> None:
    whole: Any = typer.main.get_command(app)
    assert sorted(whole.commands) == sorted(COMMANDS)


@pytest.mark.parametrize(("argv", "named"), [
    (["audit", "--json"], "audit"),
    (["--codex-home", "/h", "fix", "--apply"], "fix"),
    (["--codex-home=/h", "--journal", "/j", "run", "migrate-provider"], "run"),
    (["--version"], None),
    (["--help"], None),
    ([], None),
    (["--codex-home"], None),
    (["--no-such-option", "audit"], None),
    (["audti"], None),  # a typo: the whole application says what it knows
    (["--codex-home", "audit"], None),  # "audit" is the home here, no command follows
])
def test_the_command_is_found_after_the_roots_options(argv: list[str], named: str | None) -> None:
    assert command_named(argv) == named


def test_a_person_gets_the_same_usage_error_for_a_typo() -> None:
    code, out = _invoke(app, ["audti", "--json"])
    assert code == 2 and "audti" in out
