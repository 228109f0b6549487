"""The application's root (its global options, help and exit codes) and the table of its
commands: enough to build the whole application (`operations.cli.app`) or one command of it
(`operations.cli.entry`), importing only that command's module."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from operations.cli.options import non_empty
from operations.cli.usage import Command, Group, JsonUsageErrors
from operations.locations import JOURNAL_ENV

EXIT_CODES = ("Exit codes: 0 success; 1 error (e.g. a database SQLite cannot read, a full disk); 2 usage "
              "(bad arguments, an unknown id, no such home or journal); 3 refused by a safety check (Codex "
              "running, a conflict, a held lock, a corrupt journal, a target outside the home): nothing was "
              "changed, or only what is reported as applied; 4 `audit --check` found integrity problems; 130 "
              "interrupted (SIGINT, SIGTERM): stopped at an operation boundary, what was done recorded.")

# name -> (module, attribute, kind), in the order `--help` lists them. A "command" attribute is
# a command function; a "group" attribute is a Typer app, or a function that builds one.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "audit": ("operations.cli.audit_cmd", "audit_cmd", "command"),
    "fix": ("operations.cli.fix_cmd", "fix_cmd", "command"),
    "run": ("operations.cli.run_cmd", "build_run_app", "group"),  # one command per registered operation
    "prune": ("operations.cli.run_cmd", "prune_cmd", "command"),
    "export": ("operations.cli.export_cmd", "export_cmd", "command"),
    "import": ("operations.cli.transfer_cmd", "import_cmd", "command"),
    "merge": ("operations.cli.transfer_cmd", "merge_cmd", "command"),
    "log": ("operations.cli.journal_log", "log_cmd", "command"),
    "show": ("operations.cli.journal_show", "show_cmd", "command"),
    "undo": ("operations.cli.journal_compensate", "undo_cmd", "command"),
    "redo": ("operations.cli.journal_compensate", "redo_cmd", "command"),
    "replay": ("operations.cli.journal_compensate", "replay_cmd", "command"),
    "verify": ("operations.cli.journal_verify", "verify_cmd", "command"),
    "recover": ("operations.cli.journal_recover", "recover_cmd", "command"),
    "transcript": ("operations.cli.transcript_cmd", "transcript_cmd", "command"),
    "skill": ("operations.cli.skill_cmd", "skill_app", "group"),
}


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # about 0.1 s: only when asked

    try:
        return version("codex-sessions")
    except PackageNotFoundError:
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"codex-sessions {tool_version()}")
        raise typer.Exit()


def global_options(
    show_version: Annotated[bool, typer.Option(
        "--version", metavar="", is_eager=True, callback=_show_version, help="Print the version and exit.")] = False,
    codex_home: Annotated[str | None, typer.Option(
        "--codex-home", metavar="PATH", callback=non_empty,
        help="Codex home for every command (same as the command's own --codex-home; default $CODEX_HOME or "
             "~/.codex).")] = None,
    journal: Annotated[str | None, typer.Option(
        "--journal", metavar="PATH", callback=non_empty,
        help="Journal for every command (same as the command's own --journal).")] = None,
) -> None:
    """Audit, explain and repair hidden Codex sessions; every change is journaled and can be undone.

    Start with `codex-sessions audit`, then `codex-sessions fix` (a dry run) and `fix --apply`.
    Shell completion: `codex-sessions --install-completion` (bash, zsh, fish, PowerShell).
    """
    # Options given before the command set the same defaults the command's own options would.
    if codex_home:
        os.environ["CODEX_HOME"] = str(Path(codex_home).expanduser().absolute())
    if journal:
        os.environ[JOURNAL_ENV] = str(Path(journal).expanduser().absolute())


def build_app(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """The application with these commands (each imported here), in the table's order."""
    app = typer.Typer(
        name="codex-sessions",
        cls=JsonUsageErrors,
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        help="Audit, explain and repair hidden Codex sessions; every change is journaled and can be undone.",
        epilog=EXIT_CODES,
    )
    app.callback()(global_options)
    wanted = set(names)
    for name, (module, attribute, kind) in COMMANDS.items():
        if name not in wanted:
            continue
        target: Any = getattr(importlib.import_module(module), attribute)
        if kind == "group":
            app.add_typer(target if isinstance(target, typer.Typer) else target(), name=name)
        else:
            app.command(name)(target)
    for group in (app, *(g.typer_instance for g in app.registered_groups if g.typer_instance)):
        group.info.cls = group.info.cls if group is app else Group
        for command in group.registered_commands:
            command.cls = Command if command.cls in (None, TyperCommand) else command.cls
    return app
