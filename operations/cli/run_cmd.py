"""`run OPERATION`: one command per registered operation (operations/registry.py), built from its
declared options; each plans through the pipeline, shows the plan, and with --apply runs it."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Annotated, Any

import typer

from operations import pipeline, registry
from operations.backups import prune_backups
from operations.cli import context
from operations.cli.build import command
from operations.cli.exit_codes import OK, REFUSED
from operations.cli.options import CodexHomeOpt, JournalOpt, JsonOpt, apply_progress
from operations.cli.output import echo, emit, handles, scan_progress
from operations.cli.plan_view import emit_applied, emit_dry_run, plan_data, render_plan
from operations.home import discover
from operations.locations import resolve_codex_home, resolve_journal
from operations.operation import Operation
from operations.option_specs import FILTERS, RUNNING
from operations.option_values import filters_of
from operations.repair.kept import prune_kept
from operations.repair.rollout_files import kept_store
from operations.repair.selection import ThreadFilter

EPILOG = "Each is a dry run until --apply; every change is journaled and `undo RUN --apply` takes it back."


def run_operation(op: Operation, values: dict[str, Any]) -> None:
    """Plan `op` with these option values; print the dry run, or apply it and print the before/after."""
    args, json_, apply = op.args(values), values["json_"], values["apply"]
    flt = filters_of(values) if op.filters else ThreadFilter()
    home = discover(resolve_codex_home(values["codex_home"]), values["db"], journal=values["journal"])
    services = context.make_services()
    job = pipeline.Job(f"run {op.name}", [lambda ctx, f: op.plan(ctx, f, args)], app_state=op.app_state)
    with context.writer_if(apply, home.journal, services, sys.argv[1:]) as writer:
        seen = pipeline.preview(home, services, flt, job, apply=apply, progress=scan_progress(json_))
        plan = seen.plans[0]
        plan.warnings[:0] = seen.warnings
        data: dict[str, Any] = {"dry_run": not apply, "plan": plan_data(plan) if json_ else {}}
        if writer is None:
            emit_dry_run("run", seen, data, json_, values["verbose"])
            return
        if not plan.ops:
            code = REFUSED if plan.left_alone else OK
            emit("run", data, json_, lambda: render_plan(plan, "nothing to apply"),
                 status="refused" if code else "ok", exit_code=code)
            return
        meta = {"operation": op.name, "options": plan.options, "refused": [asdict(r) for r in plan.left_alone]}
        done = pipeline.apply(seen, writer, services, argv=sys.argv[1:], progress=apply_progress(json_), meta=meta)
    emit_applied(f"run {op.name}", done, data, json_, values["verbose"])


def operation_command(op: Operation) -> Any:
    specs = (*op.options, *(FILTERS if op.filters else ()), *RUNNING)
    doc = f"{op.summary}\n\n{op.description + ' ' if op.description else ''}Example: {op.example}"
    return command(f"run {op.name}", specs, lambda values: run_operation(op, values), doc)


def build_run_app() -> typer.Typer:
    """`run` with one command per registered operation, in the registry's order."""
    app = typer.Typer(name="run", no_args_is_help=True, pretty_exceptions_show_locals=False, epilog=EPILOG,
                      help="Plan one repair per thread (a dry run); with --apply, execute it through the journal.")
    for op in registry.operations():
        app.command(op.name)(operation_command(op))
    return app


@handles("prune")
def prune_cmd(
    keep: Annotated[int, typer.Option("--keep", metavar="N", min=0,
                                      help="How many of the newest backups to keep.")] = 5,
    codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False,
) -> None:
    """Delete old database backups, keeping the newest N (undo never needs them), and the kept
    original bytes of compressed rollouts that no operation in effect needs any more.

    Example: codex-sessions prune --keep 3
    """
    home_path = resolve_codex_home(codex_home)
    journal_path = resolve_journal(journal, home_path)
    kept, removed = prune_backups(journal_path, keep)
    originals_kept, originals_removed = prune_kept(journal_path, kept_store(home_path))
    data = {"kept": kept, "removed": removed, "originals": {"kept": originals_kept, "removed": originals_removed}}
    emit("prune", data, json_, lambda: echo(f"kept {len(kept)} backup set(s), removed {len(removed)} file(s); original "
                                            f"bytes of compressed rollouts: kept {len(originals_kept)} (undo needs "
                                            f"them), removed {len(originals_removed)}"))
