"""`audit`: read-only; what is in a Codex home and why each session is hidden."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from journal.errors import UsageProblem
from operations.advice import Step, next_steps, thread_steps
from operations.audit import run_audit
from operations.audit_model import PROBLEM_TEXT, AuditReport
from operations.cli import context, desktop_view
from operations.cli.doctor_view import render_doctor
from operations.cli.exit_codes import CHECK_FAILED, OK
from operations.cli.options import CodexHomeOpt, JsonOpt, non_empty
from operations.cli.output import echo, emit, handles, scan_progress, to_json_bytes, warn
from operations.cli.steps_view import spell
from operations.desktop.report import desktop_steps
from operations.doctor import compare, find_codex, run_doctor
from operations.gc_pause import paused_gc
from operations.home import discover
from operations.locations import resolve_codex_home
from operations.redact import redact
from operations.repair.selection import resolve_thread
from operations.running import check_running
from operations.threads import full_row


def report_data(report: AuditReport) -> dict[str, Any]:
    schema = report.schema
    return {
        "codex_dir": report.codex_dir,
        "sqlite_home": report.sqlite_home,
        "state_db": report.state_db,
        "schema": None if schema is None else {
            "generation": schema.generation, "max_migration": schema.max_migration,
            "migrations": schema.migration_count, "codex_version_guess": schema.codex_version_guess,
            "threads_columns": list(schema.columns), "known": schema.known, "writable": schema.writable,
        },
        "config": {"model_provider": report.current_provider, "defined_providers": list(report.defined_providers)},
        "codex_running": report.codex_running,
        "stale_state_dbs": list(report.stale_dbs),
        "backfill_state": report.backfill,
        "counts": report.counts,
        "distribution": report.distribution,
        "integrity": report.integrity,
        "integrity_problem_count": report.integrity_problem_count,
        "problems": report.problems,
        "problem_samples": report.samples,
        "not_read": [{"path": f.path, "kind": f.kind, "location": f.location} for f in report.skipped],
        "formats": report.formats,
        "locations": report.locations,
        "visibility": report.visibility,
        "warnings": report.warnings,
        "cwd_spellings": report.cwd_spellings,
        "suggestions": [spell(s) for s in report.suggestions],
        "next_steps": [spell(s) for s in _next_steps(report)],
        "desktop": _desktop_data(report),  # issue 22
        "threads": [t.to_json() for t in report.threads],
    }


def _desktop_data(report: AuditReport) -> dict[str, Any] | None:
    if report.desktop is None:
        return None
    data = report.desktop.to_json()
    data["next_steps"] = [spell(s) for s in data.get("next_steps", [])]
    return data


def _next_steps(report: AuditReport) -> list[Step]:
    return next_steps(report, desktop_steps(report.desktop) if report.desktop is not None else ())


def _render(report: AuditReport) -> None:
    echo("=== Codex Session Audit ===")
    echo(f"codex_dir: {report.codex_dir}")
    echo(f"state_db: {report.state_db or '(none)'}")
    if report.schema:
        s = report.schema
        echo(f"schema: {s.generation}, migration {s.max_migration} ({s.migration_count} applied), "
             f"Codex {s.codex_version_guess}, threads has {len(s.columns)} columns")
    echo(f"current provider: {report.current_provider}  (defined: {', '.join(report.defined_providers)})")
    if report.codex_running["running"]:
        echo(f"CODEX IS RUNNING: {report.codex_running['detail']} (writes will be refused)")
    for stale in report.stale_dbs:
        echo(f"stale older state database: {stale} (a leftover cache; Codex no longer reads it)")
    if report.backfill and report.backfill.get("status") != "complete":
        echo(f"backfill_state: {report.backfill.get('status')} (Codex will rebuild rows at its next start)")
    for w in report.warnings:
        echo(f"warning: {w}")
    echo("")
    echo("counts:")
    for k, v in report.counts.items():
        echo(f"  {k}: {v}")
    echo("")
    echo("model_provider distribution:")
    for provider, n in report.distribution["model_provider"].items():
        echo(f"  {provider or '<empty>'}: {n}")
    echo("cwd distribution (top 12):")
    for cwd, n in list(report.distribution["cwd"].items())[:12]:
        echo(f"  {cwd or '<empty>'}: {n}")
    echo("")
    echo("integrity:")
    for key in ("disk_not_in_db", "db_not_on_disk", "missing_rollout_path", "duplicate_rollout_id", "active_orphan"):
        echo(f"  {key}_count: {report.integrity[f'{key}_count']}  sample: {report.integrity[f'{key}_sample'][:3]}")
    other = {k: v for k, v in report.problems.items()
             if k not in ("disk_not_in_db", "db_not_on_disk", "missing_rollout_path", "duplicate_rollout_id",
                          "active_orphan")}
    if other:
        echo("other findings:")
        for key, n in other.items():
            echo(f"  {key}: {n}  sample: {report.samples.get(key, [])[:3]}  ({PROBLEM_TEXT.get(key, key)})")
    if any(k != "current" for k in report.formats):
        echo(f"rollout first lines: {report.formats}")
    for group in report.cwd_spellings:
        echo(f"one folder, several spellings (the picker matches cwd exactly): {', '.join(group)}")
    for suggestion in report.suggestions:
        echo(f"suggestion: {spell(suggestion)}")
    echo("")
    echo("visibility:")
    for summary in report.visibility.values():
        echo(f"  {summary['summary']}")
    for line in desktop_view.section(report.desktop) if report.desktop else []:
        echo(line)
    steps = [spell(s) for s in _next_steps(report)]
    if steps:
        echo("")
        echo("next steps:")
        for step in steps:
            echo(f"  {step}")
    echo("")
    echo("details per thread: audit --explain THREAD_ID; machine-readable: audit --json")


def _explain(report: AuditReport, ref: str, state_db: str | None, json_: bool) -> None:
    t = resolve_thread(ref, report)
    row = full_row(Path(state_db), t.id) if state_db and t.row else None
    fixes = [spell(s) for s in thread_steps(t, report.current_provider)]
    data = {**t.to_json(), "row": row, "rollouts": [
        {"path": f.path, "location": f.location, "format": f.format, "size": f.size, "mtime_ns": f.mtime_ns,
         "compressed": f.compressed, "session_meta": asdict(f.meta) if f.meta else None} for f in t.files],
        "problem_text": {p: PROBLEM_TEXT.get(p, p) for p in t.problems}, "fixes": fixes,
        "desktop": report.desktop.thread(t.id) if report.desktop else None}

    def human() -> None:
        echo(f"thread {t.id}")
        echo(f"  row: {'yes' if row else 'no'}")
        if row:
            for key in ("rollout_path", "model_provider", "cwd", "source", "archived", "archived_at", "preview",
                        "updated_at"):
                if key in row:
                    echo(f"    {key}: {row[key]!r}")
        for f in data["rollouts"]:
            echo(f"  file: {f['path']} ({f['location']}, {f['format']}, {f['size']} bytes)")
            if f["session_meta"]:
                m = f["session_meta"]
                echo(f"    session_meta: provider={m['model_provider']!r} cwd={m['cwd']!r} source={m['source']!r}")
        for p in t.problems:
            echo(f"  problem: {p}: {PROBLEM_TEXT.get(p, p)}")
        for name, vis in (("IDE (thread/list)", t.ide), ("desktop recent list", t.desktop),
                          ("codex resume --all", t.picker_all), ("codex resume", t.picker_cwd)):
            if vis is None:
                continue
            echo(f"  {name}: {'listed' if vis.listed else 'HIDDEN'}")
            for reason in vis.reasons:
                echo(f"    - {reason.detail}")
        for line in desktop_view.explain(data["desktop"]) if data["desktop"] else []:
            echo(line)
        if fixes:
            echo("  to make it visible:")
            for fix in fixes:
                echo(f"    {fix}")

    emit("audit", data, json_, human)


@handles("audit")
@paused_gc()  # read-only: what it builds lives until it has printed (operations/gc_pause.py)
def audit_cmd(
    codex_home: CodexHomeOpt = None,
    db: Annotated[str | None, typer.Option("--db", metavar="PATH", callback=non_empty,
        help="The state database, when two candidates exist.")] = None,
    cwd: Annotated[str | None, typer.Option("--cwd", metavar="DIR", callback=non_empty,
        help="Judge the terminal picker as run from this folder (a relative DIR is taken from here).")] = None,
    explain: Annotated[str | None, typer.Option(
        "--explain", metavar="THREAD_ID", help="Everything known about one thread, and how to make it visible "
                                               "(its id, or a prefix only it has; an ambiguous one is an error "
                                               "listing what it could mean).",
    )] = None,
    check: Annotated[bool, typer.Option("--check", metavar="",
        help="Exit 4 when integrity problems are found.")] = False,
    redact_: Annotated[bool, typer.Option(
        "--redact", metavar="",
            help="A report safe to paste in a public issue: codes and counts, hashed ids and folder names, "
                         "no previews, titles, prompts or cwds.")] = False,
    max_samples: Annotated[int, typer.Option("--max-samples", metavar="N", min=1, help="Sample ids per finding.")] = 10,
    codex_doctor: Annotated[bool, typer.Option(
        "--codex-doctor", metavar="",
        help="Also run `codex doctor --json` (the codex on the PATH; it reads the home, and its other checks "
             "probe the network) and show its rollout/database figures beside the audit's.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Audit a Codex home, read-only: what is there and why each session is hidden. Example: codex-sessions audit"""
    if codex_doctor and (redact_ or explain):
        raise UsageProblem("--codex-doctor goes with the full audit, not with --redact or --explain")
    binary = find_codex() if codex_doctor else None  # before the scan: a missing codex is said at once
    home = discover(resolve_codex_home(codex_home), db)
    services = context.make_services()
    running = check_running(home.codex_home, home.databases)  # once: the report says whether Codex runs here
    report = run_audit(home, now=services.clock.now(), picker_cwd=os.path.abspath(cwd) if cwd else None,
                       max_samples=max_samples, progress=scan_progress(json_), running=running)
    if scan_progress(json_):
        warn("")
    if explain is not None:
        _explain(report, explain, report.state_db, json_)
        return
    data = redact(report) if redact_ else report_data(report)
    comparison = compare(report, run_doctor(binary, home.codex_home), binary=binary) if binary else None
    if comparison is not None:
        data["codex_doctor"] = comparison.to_json()
    failing = check and report.integrity_problem_count > 0
    if redact_:
        emit("audit", data, json_, lambda: echo(to_json_bytes(data).decode()),
             status="check_failed" if failing else "ok", exit_code=CHECK_FAILED if failing else OK)
        return

    def human() -> None:
        _render(report)
        if comparison is not None:
            render_doctor(comparison)

    emit("audit", data, json_, human, status="check_failed" if failing else "ok",
         exit_code=CHECK_FAILED if failing else OK)
