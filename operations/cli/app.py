"""The typer application: parses, calls one core function per command, prints."""

from __future__ import annotations

import typer

from operations.cli import audit_cmd, fix_cmd, journal_cmds, run_cmd

app = typer.Typer(
    name="codex-sessions",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Audit, explain and repair hidden Codex sessions; every change is journaled and can be undone.",
)

app.command("audit")(audit_cmd.audit_cmd)
app.command("fix")(fix_cmd.fix_cmd)
app.command("run")(run_cmd.run_cmd)
app.command("prune")(run_cmd.prune_cmd)
app.command("log")(journal_cmds.log_cmd)
app.command("show")(journal_cmds.show_cmd)
app.command("undo")(journal_cmds.undo_cmd)
app.command("redo")(journal_cmds.redo_cmd)
app.command("replay")(journal_cmds.replay_cmd)
app.command("verify")(journal_cmds.verify_cmd)
app.command("recover")(journal_cmds.recover_cmd)


def main() -> None:
    app()
