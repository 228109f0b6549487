"""`fix`: one command from "my sessions are gone" to "they are back" (dry run by default)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from journal.runner import PlannedOp
from operations.audit import run_audit
from operations.cli import context
from operations.cli.exit_codes import OK, REFUSED
from operations.cli.options import (
    ApplyOpt,
    CodexHomeOpt,
    CwdOpt,
    DbOpt,
    FromStyleOpt,
    JournalOpt,
    JsonOpt,
    MapOpt,
    ProviderOpt,
    SinceOpt,
    ThreadOpt,
    UntilOpt,
    VerboseOpt,
    apply_progress,
    cwd_mappings,
    non_empty,
    require_known_threads,
    thread_filter,
)
from operations.cli.output import echo, emit, handles, scan_progress, warn
from operations.cli.plan_view import effect_lines, plan_data, render_result, result_data
from operations.home import discover
from operations.locations import resolve_codex_home, resolve_journal
from operations.repair.execute import apply_phases, preflight, refuse_unwritable, shape_verdicts
from operations.repair.fix import FixOptions, FixPlan, plan_fix, plan_phase, wanted_phases
from operations.repair.plan import Plan
from operations.repair.selection import RepairContext
from operations.runreport import before_after
from operations.runreport import render as render_report


def _fix_data(fix: FixPlan) -> dict[str, Any]:
    return {
        "phases": [{"phase": p.operation, "operations": len(p.ops), "left_alone": len(p.refused),
                    "plan": plan_data(p)} for p in fix.phases],
        "target_provider": fix.target_provider, "predicted": fix.predicted, "still_hidden": fix.still_hidden,
        "notes": fix.notes, "operations": fix.op_count,
    }


def _render_fix(fix: FixPlan, verbose: bool) -> None:
    for phase in fix.phases:
        echo(f"{phase.operation}: {len(phase.ops)} operation(s)"
             + (f", {len(phase.refused)} thread(s) left alone" if phase.refused else ""))
        for op in phase.ops:
            echo(f"  {op.label}")
            if verbose:
                for effect in op.effects:
                    for line in effect_lines(effect, indent="      "):
                        echo(line)
        for r in phase.refused:
            echo(f"  left alone {r.thread}: {r.reason}")
    echo("predicted afterwards:")
    for view in fix.predicted.values():
        echo(f"  {view['summary']}")
    if fix.still_hidden:
        echo("still hidden from the IDE list, and how to see them:")
        for item in fix.still_hidden:
            echo(f"  {item['count']} by {item['reason']}: {item['how_to_see']}")
    for note in fix.notes:
        echo(f"note: {note}")


@handles("fix")
def fix_cmd(
    to: Annotated[str | None, typer.Option(
        "--to", metavar="PROVIDER", callback=non_empty,
        help="Provider to migrate threads to (default: config.toml's).")] = None,
    unarchive: Annotated[bool, typer.Option("--unarchive", metavar="",
        help="Also unarchive archived threads.")] = False,
    forget_missing: Annotated[bool, typer.Option(
        "--forget-missing", metavar="",
            help="Retire rows whose rollout exists nowhere (journaled, undoable).")] = False,
    map_file: MapOpt = None,
    source: Annotated[list[str] | None, typer.Option(
        "--from", metavar="OLD_FOLDER", callback=non_empty,
        help="Rewrite this folder, absolute (paired with --to-folder; repeatable).")] = None,
    target: Annotated[list[str] | None, typer.Option(
        "--to-folder", metavar="NEW_FOLDER", callback=non_empty,
        help="The new folder for the --from before it, absolute.")] = None,
    from_style: FromStyleOpt = "posix",
    force: Annotated[bool, typer.Option("--force", metavar="",
        help="Allow a --to provider config.toml lacks.")] = False,
    desktop: Annotated[bool, typer.Option("--desktop", metavar="",
        help="Also repair the desktop app's .codex-global-state.json: from its .bak when damaged, and its lost "
             "projects and assignments from state_5 (the app must be closed).")] = False,
    thread: ThreadOpt = None,
    provider: ProviderOpt = None,
    cwd: CwdOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    verbose: VerboseOpt = False,
    apply: ApplyOpt = False,
    db: DbOpt = None,
    codex_home: CodexHomeOpt = None,
    journal: JournalOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Make every recoverable session visible again: relocate-home, repair-paths, import-orphans and
    migrate-provider as this home needs them (plus --unarchive, --forget-missing, folder rewrites when
    asked), as one journaled run that `undo RUN` takes back whole.

    Example: codex-sessions fix; then codex-sessions fix --apply
    """
    home_path = resolve_codex_home(codex_home)
    home = discover(home_path, db)
    services = context.make_services()
    opts = FixOptions(to=to, unarchive=unarchive, forget_missing=forget_missing,
                      mappings=tuple(cwd_mappings(source, target, map_file)), from_style=from_style, force=force,
                      desktop=desktop)
    flt = thread_filter(thread, provider, cwd, since, until)
    dbs = home.databases
    with context.writer_if(apply, resolve_journal(journal, home_path), services, sys.argv[1:]) as writer:
        report = run_audit(home, now=services.clock.now(), progress=scan_progress(json_))
        if apply:
            refuse_unwritable(report.schema, dbs)
        flt = require_known_threads(flt, report)
        ctx = RepairContext(home, report, services.clock.now())
        fix = plan_fix(ctx, flt, opts)
        warnings = (shape_verdicts(report.schema, dbs)[1] + ctx.unreadable(flt)
                    + [w for p in fix.phases for w in p.warnings])
        data: dict[str, Any] = {"dry_run": not apply, "options": opts.describe(), "filters": flt.describe(),
                                **_fix_data(fix), "warnings": warnings}
        if not json_:
            for w in warnings:
                warn(f"warning: {w}")
        if writer is None:
            everything = Plan("fix", ops=[op for p in fix.phases for op in p.ops])
            blockers = preflight(everything, home, report.schema) if fix.op_count else []
            data["apply_refused"] = blockers

            def dry() -> None:
                for reason in blockers:
                    echo(f"--apply WOULD BE REFUSED: {reason}")
                _render_fix(fix, verbose)
                echo("dry run: nothing changed; " + ("fix the above first" if blockers else
                                                     "add --apply" if fix.op_count else "nothing to do"))

            emit("fix", data, json_, dry)
            return
        if not fix.op_count:

            def nothing() -> None:
                _render_fix(fix, verbose)
                echo("nothing to apply")

            emit("fix", data, json_, nothing)
            return

        def phase(name: str) -> Any:
            def plan_now() -> list[PlannedOp]:
                fresh = run_audit(discover(home_path, db), now=services.clock.now(), previous=report)
                return plan_phase(name, RepairContext(home, fresh, services.clock.now()), flt, opts).ops

            return plan_now

        names = wanted_phases(report, flt, opts)
        phases = [lambda: fix.phases[0].ops, *[phase(n) for n in names[1:]]]
        result, backups = apply_phases(phases, dbs, home, report.schema, writer, services, command="fix",
                                       argv=sys.argv[1:], meta={"operation": "fix", "options": opts.describe(),
                                                                "filters": flt.describe(), "phases": names},
                                       progress=apply_progress(json_), desktop_files=opts.desktop)
    after = run_audit(discover(home_path, db), now=services.clock.now(), previous=report)
    data.update(result_data(result))
    data["backups"] = [b.__dict__ for b in backups]
    data["undo"] = f"codex-sessions undo {result.run_id} --apply"
    data["report"] = before_after(report, after)
    data["after"] = {k: v["summary"] for k, v in after.visibility.items()}
    code = OK if result.status == "ok" else REFUSED

    def human() -> None:
        for b in backups:
            echo(f"backup of {b.db}: {b.path} (sha256 {b.sha256[:16]}…)")
        for line in render_report(data["report"]):
            echo(line)
        for text in data["after"].values():
            echo(f"now: {text}")
        render_result(result, "fix", verbose)

    emit("fix", data, json_, human, status="ok" if code == 0 else "partial", exit_code=code)
