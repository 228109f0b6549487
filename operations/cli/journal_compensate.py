"""`undo`, `redo`, `replay`: a dry run shows the plan and what applying would refuse; `--apply`
runs it through `operations.compensate` (the engine's safe sequence with this home's gate)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from journal import CompensationPlan, api
from operations import compensate
from operations.cli import context
from operations.cli.exit_codes import OK, REFUSED
from operations.cli.options import ApplyOpt, CodexHomeOpt, JournalOpt, JsonOpt
from operations.cli.output import echo, emit, handles
from operations.cli.plan_view import effect_lines, render_result, result_data

ForceOpt = Annotated[bool, typer.Option("--force", metavar="",
                                        help="Proceed over conflicts (what changed since is recorded).")]
CascadeOpt = Annotated[bool, typer.Option("--cascade", metavar="", help=(
    "Also undo later operations that touched the same targets, newest first."))]
RedoCascadeOpt = Annotated[bool, typer.Option("--cascade", metavar="", help=(
    "Also redo later undone operations that touched the same targets."))]
RefArg = Annotated[str, typer.Argument(metavar="ID", show_default=False,
                                       help="An operation or run id (or a unique prefix, any case).")]
RunRefArg = Annotated[str, typer.Argument(metavar="RUN_ID", help="A run id (or a unique prefix, any case).")]


@handles("undo")
def undo_cmd(ref: RefArg, apply: ApplyOpt = False, force: ForceOpt = False, cascade: CascadeOpt = False,
             codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False) -> None:
    """Undo an operation or a whole run (newest operation first). Example: codex-sessions undo 0193ab --apply"""
    _compensate("undo", ref, apply, force, cascade, codex_home, journal, json_)


@handles("redo")
def redo_cmd(ref: RefArg, apply: ApplyOpt = False, force: ForceOpt = False, cascade: RedoCascadeOpt = False,
             codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False) -> None:
    """Redo what an undo reversed (the undo of an undo). Example: codex-sessions redo 0193ab --apply"""
    _compensate("redo", ref, apply, force, cascade, codex_home, journal, json_)


@handles("replay")
def replay_cmd(ref: RunRefArg, apply: ApplyOpt = False, codex_home: CodexHomeOpt = None, journal: JournalOpt = None,
               json_: JsonOpt = False) -> None:
    """Re-apply a recorded run to the current state, each operation guarded by its before values.

    Example: codex-sessions replay 0193ab --apply
    """
    _compensate("replay", ref, apply, False, False, codex_home, journal, json_)


def _compensate(action: api.Action, ref: str, apply: bool, force: bool, cascade: bool, codex_home: str | None,
                journal: str | None, json_: bool) -> None:
    loc, services = context.locate(codex_home, journal), context.make_services()
    if not apply:
        found = compensate.preview(action, ref, loc, services.tool, force=force, cascade=cascade)
        data = {"dry_run": True, "plan": found.plan.to_json(), "would_refuse": found.refusal}

        def human() -> None:
            render_plan(found.plan)
            echo(f"would refuse: {found.refusal}" if found.refusal
                 else f"dry run: nothing changed; add --apply to {action}")

        emit(action, data, json_, human)
        return
    done = compensate.compensate(action, ref, loc, services, sys.argv[1:], force=force, cascade=cascade)
    assert done.result is not None
    result, code = done.result, OK if done.settled else REFUSED
    emit(action, {"dry_run": False, **result_data(result), "backups": done.meta.get("backups", [])}, json_,
         lambda: render_result(result, action), status="ok" if code == OK else "partial", exit_code=code)


def render_plan(plan: CompensationPlan) -> None:
    echo(f"{plan.action} {plan.requested}: {len(plan.ops)} operation(s)")
    for src, op in zip(plan.sources, plan.ops, strict=True):
        echo(f"  {op.title}  (of {src})")
        for effect in op.effects:
            for line in effect_lines(effect):
                echo(line)
    for op_id, state in plan.not_in_effect:
        echo(f"  left as it is: {op_id} is {state}")
    for op_id, reason in plan.would_skip:
        echo(f"  would skip {op_id}: {reason}")
    for c in plan.conflicts:
        echo(f"  CONFLICT{' (blocking)' if c.blocking else ''}: {c.effect}: {c.detail}")
    if plan.cascade_needed:
        echo(f"  later operations in effect touch the same targets: {', '.join(plan.cascade_needed)}"
             f" (use --cascade to {plan.action} them first)")
