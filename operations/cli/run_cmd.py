"""`run OPERATION`: plan per-thread repairs, show them, and with --apply execute them journaled.

Each operation is its own command under `run`, with only its own options (the shared ones
come from `options.py`); adding an operation is one planner module and one command here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

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
    absolute_folder,
    apply_progress,
    cwd_mappings,
    non_empty,
    require_known_threads,
    thread_filter,
)
from operations.cli.output import echo, emit, handles, scan_progress
from operations.cli.plan_view import emit_dry_run, plan_data, render_plan, render_result, result_data
from operations.home import discover
from operations.locations import resolve_codex_home, resolve_journal
from operations.repair.archive import plan_archive_change
from operations.repair.cwd import plan_rewrite_cwd
from operations.repair.execute import apply_plan, databases_in, prune_backups, refuse_unwritable, shape_verdicts
from operations.repair.forget import plan_forget_missing
from operations.repair.kept import prune_kept
from operations.repair.orphans import plan_import_orphans
from operations.repair.plan import Plan
from operations.repair.provider import default_provider, plan_migrate_provider
from operations.repair.relocate import plan_relocate_home
from operations.repair.repair_paths import plan_repair_paths
from operations.repair.rollout_files import kept_store
from operations.repair.selection import RepairContext, ThreadFilter
from operations.runreport import before_after
from operations.runreport import render as render_report

run_app = typer.Typer(
    name="run", no_args_is_help=True, pretty_exceptions_show_locals=False,
    help="Plan one repair per thread (a dry run); with --apply, execute it through the journal.",
    epilog="Each is a dry run until --apply; every change is journaled and `undo RUN --apply` takes it back.")

Planner = Callable[[RepairContext, ThreadFilter], Plan]


@dataclass(frozen=True)
class Common:
    """The options every operation takes: which threads, and how to run."""

    thread: list[str] | None
    provider: str | None
    cwd: str | None
    since: str | None
    until: str | None
    verbose: bool
    apply: bool
    db: str | None
    codex_home: str | None
    journal: str | None
    json_: bool


def _run(operation: str, planner: Planner, common: Common) -> None:
    """Audit, plan with `planner`, and print the dry run or apply it and print the before/after."""
    json_ = common.json_
    home_path = resolve_codex_home(common.codex_home)
    home = discover(home_path, common.db)
    services = context.make_services()
    flt = thread_filter(common.thread, common.provider, common.cwd, common.since, common.until)
    with context.writer_if(common.apply, resolve_journal(common.journal, home_path), services,
                           sys.argv[1:]) as writer:
        report = run_audit(home, now=services.clock.now(), progress=scan_progress(json_))
        if common.apply:
            refuse_unwritable(report.schema)
        flt = require_known_threads(flt, report)
        ctx = RepairContext(home, report, services.clock.now())
        plan = planner(ctx, flt)
        plan.warnings[:0] = shape_verdicts(report.schema, databases_in(plan, home))[1] + ctx.unreadable(flt)
        data: dict[str, Any] = {"dry_run": not common.apply, "plan": plan_data(plan)}
        if writer is None:
            emit_dry_run("run", plan, home, report.schema, data, json_, common.verbose)
            return
        if not plan.ops:
            code = REFUSED if plan.refused else OK
            emit("run", data, json_, lambda: render_plan(plan, "nothing to apply"),
                 status="refused" if code else "ok", exit_code=code)
            return
        result, backups = apply_plan(plan, home, report.schema, writer, services, argv=sys.argv[1:],
                                     filters=flt.describe(), progress=apply_progress(json_))
    after = run_audit(discover(home_path, common.db), now=services.clock.now(), previous=report)
    data.update(result_data(result))
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
        render_result(result, f"run {operation}", common.verbose)

    emit("run", data, json_, human, status="ok" if code == 0 else "partial", exit_code=code)


@run_app.command("repair-paths")
@handles("run")
def repair_paths_cmd(thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None,
                     since: SinceOpt = None, until: UntilOpt = None, verbose: VerboseOpt = False,
                     apply: ApplyOpt = False, db: DbOpt = None, codex_home: CodexHomeOpt = None,
                     journal: JournalOpt = None, json_: JsonOpt = False) -> None:
    """Put a moved rollout where Codex keeps it (mtime kept) and point its row at it.

    Example: codex-sessions run repair-paths
    """
    _run("repair-paths", plan_repair_paths,
         Common(thread, provider, cwd, since, until, verbose, apply, db, codex_home, journal, json_))


@run_app.command("unarchive")
@handles("run")
def unarchive_cmd(thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None,
                  since: SinceOpt = None, until: UntilOpt = None, verbose: VerboseOpt = False,
                  apply: ApplyOpt = False, db: DbOpt = None, codex_home: CodexHomeOpt = None,
                  journal: JournalOpt = None, json_: JsonOpt = False) -> None:
    """As `codex unarchive`: the file back to its dated folder (mtime touched), the row unarchived.

    Example: codex-sessions run unarchive --since 2026-01-01
    """
    _run("unarchive", lambda ctx, flt: plan_archive_change(ctx, flt, archive=False),
         Common(thread, provider, cwd, since, until, verbose, apply, db, codex_home, journal, json_))


@run_app.command("archive")
@handles("run")
def archive_cmd(thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None,
                since: SinceOpt = None, until: UntilOpt = None, verbose: VerboseOpt = False,
                apply: ApplyOpt = False, db: DbOpt = None, codex_home: CodexHomeOpt = None,
                journal: JournalOpt = None, json_: JsonOpt = False) -> None:
    """As `codex archive`: the file to archived_sessions/ (mtime kept), the row archived.

    Example: codex-sessions run archive --thread 01a2
    """
    _run("archive", lambda ctx, flt: plan_archive_change(ctx, flt, archive=True),
         Common(thread, provider, cwd, since, until, verbose, apply, db, codex_home, journal, json_))


@run_app.command("migrate-provider")
@handles("run")
def migrate_provider_cmd(
    to: Annotated[str | None, typer.Option("--to", metavar="PROVIDER", callback=non_empty,
                                           help="The provider to migrate to (default: config.toml's).")] = None,
    source: Annotated[list[str] | None, typer.Option("--from", metavar="PROVIDER", callback=non_empty,
                                                     help="Only threads of these providers (repeatable).")] = None,
    db_only: Annotated[bool, typer.Option("--db-only", metavar="",
                                          help="The row only, as the seed did (current Codex reverts it).")] = False,
    force: Annotated[bool, typer.Option("--force", metavar="",
                                        help="Allow a provider config.toml does not define.")] = False,
    thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None, since: SinceOpt = None,
    until: UntilOpt = None, verbose: VerboseOpt = False, apply: ApplyOpt = False, db: DbOpt = None,
    codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False,
) -> None:
    """Make threads of other providers belong to PROVIDER, in the rollout and the row, durably.

    Example: codex-sessions run migrate-provider --to openai --from azure
    """
    def planner(ctx: RepairContext, flt: ThreadFilter) -> Plan:
        target = to or default_provider(ctx.home)
        return plan_migrate_provider(ctx, flt, target, sources=tuple(source or ()), db_only=db_only, force=force)

    _run("migrate-provider", planner,
         Common(thread, provider, cwd, since, until, verbose, apply, db, codex_home, journal, json_))


@run_app.command("import-orphans")
@handles("run")
def import_orphans_cmd(
    via_backfill: Annotated[bool, typer.Option("--via-backfill", metavar="",
                                               help="Reset backfill_state so Codex rebuilds the rows itself.")]
    = False,
    thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None, since: SinceOpt = None,
    until: UntilOpt = None, verbose: VerboseOpt = False, apply: ApplyOpt = False, db: DbOpt = None,
    codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False,
) -> None:
    """Give a rollout with no row the row Codex would derive from it (never a live session).

    Example: codex-sessions run import-orphans
    """
    _run("import-orphans", lambda ctx, flt: plan_import_orphans(ctx, flt, via_backfill=via_backfill),
         Common(thread, provider, cwd, since, until, verbose, apply, db, codex_home, journal, json_))


@run_app.command("rewrite-cwd")
@handles("run")
def rewrite_cwd_cmd(
    source: Annotated[list[str] | None, typer.Option("--from", metavar="OLD", callback=non_empty,
                                                     help="The old folder, absolute (repeatable, paired with --to)."
                                                     )] = None,
    to: Annotated[list[str] | None, typer.Option("--to", metavar="NEW", callback=non_empty,
                                                 help="The new folder for the --from before it, absolute.")] = None,
    map_file: MapOpt = None, from_style: FromStyleOpt = "posix",
    thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None, since: SinceOpt = None,
    until: UntilOpt = None, verbose: VerboseOpt = False, apply: ApplyOpt = False, db: DbOpt = None,
    codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False,
) -> None:
    """A project folder was renamed or moved: rewrite the cwd wherever Codex reads it, offsets kept true.

    Example: codex-sessions run rewrite-cwd --from /old/proj --to /new/proj
    """
    pairs = cwd_mappings(source, to, map_file)
    _run("rewrite-cwd", lambda ctx, flt: plan_rewrite_cwd(ctx, flt, pairs, from_style),
         Common(thread, provider, cwd, since, until, verbose, apply, db, codex_home, journal, json_))


@run_app.command("relocate-home")
@handles("run")
def relocate_home_cmd(
    source: Annotated[str | None, typer.Option("--from", metavar="OLD_HOME", callback=absolute_folder,
                                               help="The home the rows point into, absolute (default: inferred)."
                                               )] = None,
    thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None, since: SinceOpt = None,
    until: UntilOpt = None, verbose: VerboseOpt = False, apply: ApplyOpt = False, db: DbOpt = None,
    codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False,
) -> None:
    """A home was copied or moved: point every rollout_path in OLD_HOME at the same file in this home.

    Example: codex-sessions run relocate-home --from /mnt/old/.codex
    """
    _run("relocate-home", lambda ctx, flt: plan_relocate_home(ctx, flt, source),
         Common(thread, provider, cwd, since, until, verbose, apply, db, codex_home, journal, json_))


@run_app.command("forget-missing")
@handles("run")
def forget_missing_cmd(thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None,
                       since: SinceOpt = None, until: UntilOpt = None, verbose: VerboseOpt = False,
                       apply: ApplyOpt = False, db: DbOpt = None, codex_home: CodexHomeOpt = None,
                       journal: JournalOpt = None, json_: JsonOpt = False) -> None:
    """Delete rows whose rollout exists nowhere in this home (the whole row journaled: undo puts it back).

    Example: codex-sessions run forget-missing
    """
    _run("forget-missing", plan_forget_missing,
         Common(thread, provider, cwd, since, until, verbose, apply, db, codex_home, journal, json_))


@handles("prune")
def prune_cmd(
    keep: Annotated[int, typer.Option("--keep", metavar="N", min=0,
        help="How many of the newest backups to keep.")] = 5,
    codex_home: CodexHomeOpt = None,
    journal: JournalOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Delete old database backups, keeping the newest N (undo never needs them), and the kept
    original bytes of compressed rollouts that no operation in effect needs any more.

    Example: codex-sessions prune --keep 3
    """
    home_path = resolve_codex_home(codex_home)
    journal_path = resolve_journal(journal, home_path)
    kept, removed = prune_backups(journal_path, keep)
    originals_kept, originals_removed = prune_kept(journal_path, kept_store(home_path))
    data = {"kept": kept, "removed": removed,
            "originals": {"kept": originals_kept, "removed": originals_removed}}
    emit("prune", data, json_,
         lambda: echo(f"kept {len(kept)} backup set(s), removed {len(removed)} file(s); original bytes of "
                      f"compressed rollouts: kept {len(originals_kept)} (undo needs them), "
                      f"removed {len(originals_removed)}"))
