"""`export`, `import`, `merge`: move threads between homes and machines, checked before anything
is written, each imported thread one journaled operation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from journal.errors import io_failure
from journal.fileio import file_digest
from journal.guard import PathGuard
from operations.audit import run_audit
from operations.bundle import Bundle, check_output, collect, write
from operations.bundle_check import open_bundle
from operations.cli import context
from operations.cli.exit_codes import OK, REFUSED
from operations.cli.options import (
    ApplyOpt,
    CodexHomeOpt,
    CwdOpt,
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
    require_known_threads,
    thread_filter,
)
from operations.cli.output import echo, emit, handles, scan_progress
from operations.cli.plan_view import emit_dry_run, plan_data, render_plan, render_result, result_data
from operations.home import discover
from operations.locations import resolve_codex_home, resolve_journal
from operations.repair.execute import apply_phases, refuse_unwritable
from operations.repair.importing import ImportOptions, plan_import, staging_folder, write_staging
from operations.repair.selection import RepairContext
from operations.safety import refuse_unless_safe

ToProviderOpt = Annotated[str | None, typer.Option(
    "--to-provider", metavar="P", help="Give the threads this provider here (as migrate-provider does).")]
ReplaceOpt = Annotated[bool, typer.Option(
    "--replace", metavar="", help="Overwrite a thread here that has other content (journaled, undoable).")]
ForceOpt = Annotated[bool, typer.Option("--force", metavar="", help="Allow a --to-provider config.toml lacks.")]


@handles("export")
def export_cmd(
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE", help="The bundle file to write.")],
    thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None, since: SinceOpt = None,
    until: UntilOpt = None,
    db: Annotated[str | None, typer.Option("--db", metavar="PATH", help="The state database, when two exist.")] = None,
    codex_home: CodexHomeOpt = None, json_: JsonOpt = False,
) -> None:
    """Write chosen threads to one bundle file (read-only on the home). Example: codex-sessions export -o moved.zip"""
    out = Path(output).expanduser().absolute()
    check_output(out)  # before the home is read
    home = discover(resolve_codex_home(codex_home), db)
    report = run_audit(home, now=context.make_services().clock.now(), progress=scan_progress(json_))
    flt = thread_filter(thread, provider, cwd, since, until)
    require_known_threads(flt, report)
    bundle = collect(report, flt, home, digests=False)
    manifest = write(bundle, out)
    digest, size = file_digest(out)
    undecodable: list[dict[str, Any]] = [{"id": t.id, "columns": t.undecodable_columns}
                                         for t in bundle.threads if t.undecodable_columns]
    data = {"output": str(out), "sha256": digest, "bytes": size, "threads": len(bundle.threads),
            "left_out": bundle.left_out, "undecodable": undecodable, "source": manifest["source"]}

    def human() -> None:
        echo(f"wrote {out}: {len(bundle.threads)} thread(s), {size} bytes, sha256 {digest}")
        for left in bundle.left_out:
            echo(f"left out {left['id']}: {left['reason']}")
        for item in undecodable:
            echo(f"note {item['id']}: its row's {', '.join(item['columns'])} held bytes that are not UTF-8; "
                 "exported as the audit reads them (U+FFFD in their place)")

    emit("export", data, json_, human)


def _import(operation: str, bundle: Bundle, opts: ImportOptions, apply: bool, codex_home: str | None,
            journal: str | None, json_: bool, verbose: bool) -> None:
    home_path = resolve_codex_home(codex_home)
    home = discover(home_path)
    services = context.make_services()
    dbs = home.databases
    with context.writer_if(apply, resolve_journal(journal, home_path), services, sys.argv[1:]) as writer:
        report = run_audit(home, now=services.clock.now(), progress=scan_progress(json_))
        if apply:
            refuse_unwritable(report.schema, dbs)
        stamp = services.clock.now().strftime("%Y%m%dT%H%M%S") + "-" + services.ids.new_id()[-8:]
        ctx = RepairContext(home, report, services.clock.now())
        planned = plan_import(ctx, bundle, opts, staging_folder(home, stamp), operation=operation)
        plan = planned.plan
        data: dict[str, Any] = {"dry_run": not apply, "plan": plan_data(plan), "skipped": planned.skipped,
                                "conflicts": planned.conflicts, "left_out_at_export": bundle.left_out,
                                "source": bundle.source}

        def summary() -> None:
            for item in planned.skipped:
                echo(f"already here {item['thread']}: {item['reason']}")
            for item in planned.conflicts:
                echo(f"CONFLICT {item['thread']}: {item['reason']}")

        if writer is None:
            emit_dry_run(operation, plan, home, report.schema, data, json_, verbose, first=summary)
            return
        if not plan.ops:
            code = REFUSED if plan.refused else OK

            def nothing() -> None:
                summary()
                render_plan(plan, "nothing to apply", verbose)

            emit(operation, data, json_, nothing, status="refused" if code else "ok", exit_code=code)
            return
        refuse_unless_safe(home.codex_home, dbs)  # before the first byte is staged
        try:
            write_staging(planned.staged, opts, PathGuard(home.roots))
        except OSError as exc:
            raise io_failure(exc, "staging the rollouts:", "Nothing was changed in the home (what was staged is "
                             "removed again); free space, then run the command again") from None
        result, backups = apply_phases([lambda: plan.ops], dbs, home, report.schema, writer, services,
                                       command=operation, argv=sys.argv[1:],
                                       meta={"operation": operation, "options": opts.describe(),
                                             "source": bundle.source}, progress=apply_progress(json_))
    data.update(result_data(result))
    data["backups"] = [b.__dict__ for b in backups]
    data["undo"] = f"codex-sessions undo {result.run_id} --apply"
    code = OK if result.status == "ok" else REFUSED

    def human() -> None:
        summary()
        for b in backups:
            echo(f"backup of {b.db}: {b.path} (sha256 {b.sha256[:16]}…)")
        render_result(result, operation, verbose)

    emit(operation, data, json_, human, status="ok" if code == 0 else "partial", exit_code=code)


@handles("import")
def import_cmd(
    bundle_file: Annotated[str, typer.Argument(metavar="FILE", show_default=False, help="A bundle from `export`.")],
    to_provider: ToProviderOpt = None, map_file: MapOpt = None,
    source: Annotated[list[str] | None, typer.Option(
        "--from", "--from-folder", metavar="OLD", help="Rewrite this folder (paired with --to; repeatable).")] = None,
    target: Annotated[list[str] | None, typer.Option(
        "--to", "--to-folder", metavar="NEW", help="The new folder for the --from before it.")] = None,
    from_style: FromStyleOpt = "posix", replace: ReplaceOpt = False, force: ForceOpt = False,
    verbose: VerboseOpt = False,
    apply: ApplyOpt = False, codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False,
) -> None:
    """Bring a bundle's threads into this home, checked first; dry run by default.

    Example: codex-sessions import moved.zip --to-provider azure --from /old/proj --to /new/proj
    """
    opts = ImportOptions(to_provider, tuple(cwd_mappings(source, target, map_file)), from_style, replace, force)
    with open_bundle(Path(bundle_file).expanduser().absolute()) as bundle:  # every byte checked first
        _import("import", bundle, opts, apply, codex_home, journal, json_, verbose)


@handles("merge")
def merge_cmd(
    other: Annotated[str, typer.Option("--from", metavar="OTHER_HOME", help="The home to take threads from.")],
    thread: ThreadOpt = None, provider: ProviderOpt = None, cwd: CwdOpt = None, since: SinceOpt = None,
    until: UntilOpt = None, to_provider: ToProviderOpt = None, map_file: MapOpt = None,
    source: Annotated[list[str] | None, typer.Option(
        "--from-folder", metavar="OLD", help="Rewrite this folder (paired with --to-folder; repeatable).")] = None,
    target: Annotated[list[str] | None, typer.Option(
        "--to-folder", metavar="NEW", help="The new folder for the --from-folder before it.")] = None,
    from_style: FromStyleOpt = "posix", replace: ReplaceOpt = False, force: ForceOpt = False,
    verbose: VerboseOpt = False,
    apply: ApplyOpt = False, codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False,
) -> None:
    """Bring threads straight from another home (a WSL home, a restored backup); dry run by default.

    Example: codex-sessions merge --from /mnt/backup/.codex
    """
    source_home = discover(Path(other).expanduser().absolute())
    report = run_audit(source_home, now=context.make_services().clock.now(), progress=scan_progress(json_))
    flt = thread_filter(thread, provider, cwd, since, until)
    require_known_threads(flt, report)
    bundle = collect(report, flt, source_home)
    opts = ImportOptions(to_provider, tuple(cwd_mappings(source, target, map_file)), from_style, replace, force)
    _import("merge", bundle, opts, apply, codex_home, journal, json_, verbose)
