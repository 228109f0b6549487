"""The typer application: parses, calls one core function per command, prints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand

from operations.cli import (
    audit_cmd,
    export_cmd,
    fix_cmd,
    journal_cmds,
    run_cmd,
    skill_cmd,
    transcript_cmd,
    transfer_cmd,
)
from operations.cli.options import non_empty
from operations.cli.usage import Command, Group, JsonUsageErrors
from operations.locations import JOURNAL_ENV

EXIT_CODES = ("Exit codes: 0 success; 1 error (e.g. a database SQLite cannot read, a full disk); 2 usage "
              "(bad arguments, an unknown id, no such home or journal); 3 refused by a safety check (Codex "
              "running, a conflict, a held lock, a corrupt journal, a target outside the home): nothing was "
              "changed, or only what is reported as applied; 4 `audit --check` found integrity problems; 130 "
              "interrupted (SIGINT, SIGTERM): stopped at an operation boundary, what was done recorded.")

app = typer.Typer(
    name="codex-sessions",
    cls=JsonUsageErrors,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Audit, explain and repair hidden Codex sessions; every change is journaled and can be undone.",
    epilog=EXIT_CODES,
)


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


@app.callback()
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


app.command("audit")(audit_cmd.audit_cmd)
app.command("fix")(fix_cmd.fix_cmd)
app.add_typer(run_cmd.build_run_app(), name="run")  # one command per registered operation
app.command("prune")(run_cmd.prune_cmd)
app.command("export")(export_cmd.export_cmd)
app.command("import")(transfer_cmd.import_cmd)
app.command("merge")(transfer_cmd.merge_cmd)
app.command("log")(journal_cmds.log_cmd)
app.command("show")(journal_cmds.show_cmd)
app.command("undo")(journal_cmds.undo_cmd)
app.command("redo")(journal_cmds.redo_cmd)
app.command("replay")(journal_cmds.replay_cmd)
app.command("verify")(journal_cmds.verify_cmd)
app.command("recover")(journal_cmds.recover_cmd)
app.command("transcript")(transcript_cmd.transcript_cmd)
app.add_typer(skill_cmd.skill_app, name="skill")
for _group in (app, *(g.typer_instance for g in app.registered_groups if g.typer_instance)):
    _group.info.cls = _group.info.cls if _group is app else Group
    for _command in _group.registered_commands:
        _command.cls = Command if _command.cls in (None, TyperCommand) else _command.cls


def main() -> None:
    app()
