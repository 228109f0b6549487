"""`run OPERATION`: plan per-thread repairs, show them, and with --apply execute them journaled."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from journal.effects import Effect
from journal.errors import NotFound, UsageProblem
from operations.audit import AuditReport, run_audit
from operations.cli import context
from operations.cli.exit_codes import OK, REFUSED
from operations.cli.journal_cmds import CodexHomeOpt, JournalOpt, JsonOpt, _render_result, _result_data
from operations.cli.output import echo, emit, handles, scan_progress
from operations.home import CodexHome, discover
from operations.paths import resolve_codex_home, resolve_journal
from operations.repair.archive import plan_archive_change
from operations.repair.common import Plan, RepairContext, ThreadFilter
from operations.repair.cwd import Mapping, plan_rewrite_cwd, read_map
from operations.repair.execute import (
    apply_plan,
    databases_in,
    preflight,
    prune_backups,
    refuse_unwritable,
    shape_verdicts,
)
from operations.repair.forget import plan_forget_missing
from operations.repair.orphans import plan_import_orphans
from operations.repair.paths import plan_repair_paths
from operations.repair.provider import plan_migrate_provider
from operations.repair.relocate import plan_relocate_home
from operations.runreport import before_after
from operations.runreport import render as render_report
from operations.schema import StateSchema


class Operation(StrEnum):
    repair_paths = "repair-paths"
    unarchive = "unarchive"
    archive = "archive"
    migrate_provider = "migrate-provider"
    import_orphans = "import-orphans"
    rewrite_cwd = "rewrite-cwd"
    relocate_home = "relocate-home"
    forget_missing = "forget-missing"


def _date(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageProblem(f"{name} {value!r} is not a date (use YYYY-MM-DD or an ISO timestamp)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _render_effect(effect: Effect) -> str:
    return "\n        ".join(effect.render())


def plan_data(plan: Plan) -> dict[str, Any]:
    return {
        "operation": plan.operation, "options": plan.options, "considered": plan.considered,
        "operations": [{"label": op.label, "subject": op.subject,
                        "effects": [e.to_json() for e in op.effects]} for op in plan.ops],
        "refused": [r.__dict__ for r in plan.refused], "warnings": plan.warnings,
        "summary": {"operations": len(plan.ops), "effects": sum(len(op.effects) for op in plan.ops),
                    "refused": len(plan.refused)},
    }


SHOWN_WITHOUT_VERBOSE = 20


def _effect_kinds(plan: Plan) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for op in plan.ops:
        for effect in op.effects:
            name = effect.summary_name()
            kinds[name] = kinds.get(name, 0) + 1
    return kinds


def _render_plan(plan: Plan, closing: str, verbose: bool = False) -> None:
    """A summary first, grouped by what changes; each operation's effects with --verbose."""
    effects = sum(len(op.effects) for op in plan.ops)
    echo(f"plan: {len(plan.ops)} operation(s), {effects} effect(s); {len(plan.refused)} thread(s) left alone "
         f"(of {plan.considered} considered)")
    for kind, n in sorted(_effect_kinds(plan).items()):
        echo(f"  {n} x {kind}")
    for w in plan.warnings:
        echo(f"WARNING: {w}")
    shown = plan.ops if verbose else plan.ops[:SHOWN_WITHOUT_VERBOSE]
    for op in shown:
        echo(f"{op.label}")
        if verbose:
            for effect in op.effects:
                echo(f"    {_render_effect(effect)}")
    if len(shown) < len(plan.ops):
        echo(f"… and {len(plan.ops) - len(shown)} more operation(s); --verbose lists them all, with every effect")
    elif plan.ops and not verbose:
        echo("(--verbose shows every effect with its before and after values)")
    refused = plan.refused if verbose else plan.refused[:SHOWN_WITHOUT_VERBOSE]
    for r in refused:
        echo(f"left alone {r.thread}: {r.reason}")
    if len(refused) < len(plan.refused):
        echo(f"… and {len(plan.refused) - len(refused)} more left alone (--verbose)")
    echo(closing)


def emit_dry_run(command: str, plan: Plan, home: CodexHome, schema: StateSchema | None, data: dict[str, Any],
                 json_: bool, verbose: bool, first: Callable[[], None] | None = None) -> None:
    """A dry run's output: at its top whether `--apply` would be refused and why, then the plan."""
    blockers = preflight(plan, home, schema) if plan.ops else []
    data["apply_refused"] = blockers

    def dry() -> None:
        for reason in blockers:
            echo(f"--apply WOULD BE REFUSED: {reason}")
        if first is not None:
            first()
        _render_plan(plan, "dry run: nothing changed; " + ("fix the above first" if blockers else
                                                           "add --apply" if plan.ops else "nothing to do"), verbose)

    emit(command, data, json_, dry)


def _progress(json_: bool) -> Callable[[int, int], None] | None:
    if json_ or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\rapplying {done}/{total}" + ("\n" if done == total else ""))
        sys.stderr.flush()

    return show


@handles("run")
def run_cmd(
    operation_name: Annotated[str, typer.Argument(
        metavar="OPERATION", show_default=False,
            help="What to repair: " + ", ".join(o.value for o in Operation) + ".")],
    thread: Annotated[list[str] | None, typer.Option(
        "--thread", metavar="ID", help="Only this thread (repeatable; a unique prefix will do).")] = None,
    provider: Annotated[str | None, typer.Option(
        "--provider", metavar="P", help="Only threads of this provider.")] = None,
    cwd: Annotated[str | None, typer.Option(
        "--cwd", metavar="DIR", help="Only threads whose cwd is this folder or below.")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="DATE", help="Only threads created at or after DATE (YYYY-MM-DD or ISO 8601, UTC "
                                        "unless it names a zone).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="DATE", help="Only threads created before DATE (same format as --since).")] = None,
    to: Annotated[list[str] | None, typer.Option(
        "--to", metavar="VALUE",
            help="migrate-provider: the target provider (default: current); rewrite-cwd: the new prefix, "
                     "paired with --from")] = None,
    source: Annotated[list[str] | None, typer.Option(
        "--from", metavar="VALUE",
            help="migrate-provider: only these providers; rewrite-cwd: the old prefix (repeatable, "
                       "paired with --to); relocate-home: the old home")] = None,
    map_file: Annotated[str | None, typer.Option(
        "--map", metavar="FILE", help="rewrite-cwd: a file of FROM<TAB>TO (or FROM -> TO) pairs, one a line.")] = None,
    from_style: Annotated[str, typer.Option(
        "--from-style", metavar="STYLE", help="rewrite-cwd: posix, windows or wsl (windows and wsl also match /mnt/c/… "
                             "for C:\\…)")] = "posix",
    db_only: Annotated[bool, typer.Option(
        "--db-only", metavar="", help="migrate-provider: the row only (Codex reverts it).")] = False,
    via_backfill: Annotated[bool, typer.Option("--via-backfill", metavar="",
                                               help="import-orphans: reset backfill_state instead.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", metavar="", help="migrate-provider: allow a provider config.toml lacks.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", metavar="",
        help="List every operation with every effect.")] = False,
    apply: Annotated[bool, typer.Option("--apply", metavar="",
        help="Execute the plan; without it, only show it.")] = False,
    db: Annotated[str | None, typer.Option("--db", metavar="PATH",
        help="The state database, when two candidates exist.")] = None,
    codex_home: CodexHomeOpt = None,
    journal: JournalOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Plan a repair per thread; with --apply, execute it through the journal.

    Example: codex-sessions run unarchive. More (each a dry run; add --apply to make it so):

      codex-sessions run repair-paths

      codex-sessions run unarchive --since 2026-01-01

      codex-sessions run archive --thread 01a2

      codex-sessions run migrate-provider --to openai --from azure

      codex-sessions run import-orphans

      codex-sessions run rewrite-cwd --from /old/proj --to /new/proj

      codex-sessions run relocate-home --from /mnt/old/.codex

      codex-sessions run forget-missing
    """
    try:
        operation = Operation(operation_name)
    except ValueError:
        raise UsageProblem(f"no operation {operation_name!r}; choose one of "
                           + ", ".join(o.value for o in Operation)) from None
    home_path = resolve_codex_home(codex_home)
    home = discover(home_path, db)
    services = context.make_services()
    with context.writer_if(apply, resolve_journal(journal, home_path), services, sys.argv[1:]) as writer:
        report = run_audit(home, now=services.clock.now(), progress=scan_progress(json_))
        if apply:
            refuse_unwritable(report.schema)
        ctx = RepairContext(home, report, services.clock.now())
        flt = ThreadFilter(tuple(thread or ()), provider, cwd.rstrip("/") if cwd else None,
                           _date(since, "--since"), _date(until, "--until"))
        plan = _plan(operation, ctx, flt, to, source, map_file, from_style, db_only, via_backfill, force)
        plan.warnings[:0] = shape_verdicts(report.schema, databases_in(plan, home))[1] + ctx.unreadable(flt)
        data: dict[str, Any] = {"dry_run": not apply, "plan": plan_data(plan)}
        _require_known_threads(flt, report)
        if writer is None:
            emit_dry_run("run", plan, home, report.schema, data, json_, verbose)
            return
        if not plan.ops:
            code = REFUSED if plan.refused else OK
            emit("run", data, json_, lambda: _render_plan(plan, "nothing to apply"),
                 status="refused" if code else "ok", exit_code=code)
            return
        result, backups = apply_plan(plan, home, report.schema, writer, services, argv=sys.argv[1:],
                                     filters=flt.describe(), progress=_progress(json_))
    after = run_audit(discover(home_path, db), now=services.clock.now())
    data.update(_result_data(result))
    data["backups"] = [b.__dict__ for b in backups]
    data["undo"] = f"codex-sessions undo {result.run_id} --apply"
    data["report"] = before_after(report, after)
    code = OK if result.status == "ok" else REFUSED  # threads left alone at planning are reported, not failures

    def human() -> None:
        for r in plan.refused:
            echo(f"left alone {r.thread}: {r.reason}")
        for b in backups:
            echo(f"backup of {b.db}: {b.path} (sha256 {b.sha256[:16]}…)")
        for line in render_report(data["report"]):
            echo(line)
        _render_result(result, f"run {plan.operation}")

    emit("run", data, json_, human, status="ok" if code == 0 else "partial", exit_code=code)


def _require_known_threads(flt: ThreadFilter, report: AuditReport) -> None:
    """A --thread that names nothing in this home is a mistake to say, not an empty plan."""
    for ref in flt.threads:
        if not any(t.id == ref.lower() or t.id.startswith(ref.lower()) for t in report.threads):
            raise NotFound(f"no thread {ref!r} in {report.codex_dir} (neither a row nor a rollout file)")


def _plan(operation: Operation, ctx: RepairContext, flt: ThreadFilter, to: list[str] | None,
          source: list[str] | None, map_file: str | None, from_style: str, db_only: bool, via_backfill: bool,
          force: bool) -> Plan:
    home = ctx.home
    if operation is Operation.repair_paths:
        return plan_repair_paths(ctx, flt)
    if operation in (Operation.unarchive, Operation.archive):
        return plan_archive_change(ctx, flt, archive=operation is Operation.archive)
    if operation is Operation.migrate_provider:
        if len(to or []) > 1:
            raise UsageProblem("migrate-provider takes one --to")
        target = (to or [home.config.model_provider])[0]
        return plan_migrate_provider(ctx, flt, target, sources=tuple(source or ()), db_only=db_only, force=force)
    if operation is Operation.rewrite_cwd:
        return plan_rewrite_cwd(ctx, flt, _mappings(source, to, map_file), from_style)
    if operation is Operation.relocate_home:
        if len(source or []) > 1:
            raise UsageProblem("relocate-home takes one --from")
        return plan_relocate_home(ctx, flt, source[0] if source else None)
    if operation is Operation.forget_missing:
        return plan_forget_missing(ctx, flt)
    return plan_import_orphans(ctx, flt, via_backfill=via_backfill)


def _mappings(sources: list[str] | None, targets: list[str] | None, map_file: str | None) -> list[Mapping]:
    sources, targets = sources or [], targets or []
    if len(sources) != len(targets):
        raise UsageProblem("rewrite-cwd: give --from and --to in pairs")
    pairs = [Mapping(s, t) for s, t in zip(sources, targets, strict=True)]
    if map_file:
        try:
            text = Path(map_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"cannot read --map {map_file}: {exc}") from None
        pairs += read_map(text)
    return pairs


@handles("prune")
def prune_cmd(
    keep: Annotated[int, typer.Option("--keep", metavar="N", min=0,
        help="How many of the newest backups to keep.")] = 5,
    codex_home: CodexHomeOpt = None,
    journal: JournalOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Delete old database backups, keeping the newest N (undo never needs them).

    Example: codex-sessions prune --keep 3
    """
    home_path = resolve_codex_home(codex_home)
    kept, removed = prune_backups(resolve_journal(journal, home_path), keep)
    emit("prune", {"kept": kept, "removed": removed}, json_,
         lambda: echo(f"kept {len(kept)} backup set(s), removed {len(removed)} file(s)"))
