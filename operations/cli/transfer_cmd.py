"""`import`, `merge`: bring threads from a bundle or another home, checked before anything is
written (operations/transfer.py through the pipeline), each imported thread one operation."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from journal.errors import UsageProblem
from operations import pipeline
from operations.audit import run_audit
from operations.bundle import Bundle, collect
from operations.bundle_check import open_bundle
from operations.cli import context
from operations.cli.build import command
from operations.cli.exit_codes import OK, REFUSED
from operations.cli.options import apply_progress
from operations.cli.output import echo, emit, scan_progress
from operations.cli.plan_view import emit_applied, emit_dry_run, plan_data, render_plan
from operations.home import discover
from operations.locations import resolve_codex_home
from operations.option_specs import (
    FILTERS,
    FOLDERS,
    FORCE_PROVIDER,
    OTHER_HOME,
    REPLACE,
    RUNNING,
    TO_PROVIDER,
    without_deprecated,
)
from operations.option_values import filters_of, with_mappings
from operations.repair.importing import ImportOptions
from operations.repair.selection import ThreadFilter, require_known_threads
from operations.transfer import import_job

IMPORTING = (TO_PROVIDER, *(without_deprecated(s) for s in FOLDERS), REPLACE, FORCE_PROVIDER,
             *(s for s in RUNNING if s.name != "db"))
BUNDLE_FILE = inspect.Parameter("bundle_file", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, typer.Argument(
    metavar="FILE", show_default=False, help="A bundle from `export`.")])


def bring_in(operation: str, bundle: Bundle, values: dict[str, Any]) -> None:
    values = with_mappings(values)
    opts = ImportOptions(values["to_provider"], values["mappings"], values["from_style"], values["replace"],
                         values["force"])
    json_, apply, services = values["json_"], values["apply"], context.make_services()
    home = discover(resolve_codex_home(values["codex_home"]), journal=values["journal"])
    work = import_job(bundle, opts, services, operation)
    with context.writer_if(apply, home.journal, services, sys.argv[1:]) as writer:
        seen = pipeline.preview(home, services, ThreadFilter(), work.job, apply=apply,
                                progress=scan_progress(json_))
        planned, plan = work.plan, seen.plans[0]
        data: dict[str, Any] = {"dry_run": not apply, "plan": plan_data(plan), "skipped": planned.skipped,
                                "conflicts": planned.conflicts, "left_out_at_export": bundle.left_out,
                                "source": bundle.source}

        def summary() -> None:
            for item in planned.skipped:
                echo(f"already here {item['thread']}: {item['reason']}")
            for item in planned.conflicts:
                echo(f"CONFLICT {item['thread']}: {item['reason']}")

        if writer is None:
            emit_dry_run(operation, seen, data, json_, values["verbose"], first=summary)
            return
        if not plan.ops:
            code = REFUSED if plan.left_alone else OK
            def nothing() -> None:
                summary()
                render_plan(plan, "nothing to apply", values["verbose"])

            emit(operation, data, json_, nothing, status="refused" if code else "ok", exit_code=code)
            return
        done = pipeline.apply(seen, writer, services, argv=sys.argv[1:], progress=apply_progress(json_))
    emit_applied(operation, done, data, json_, values["verbose"], first=summary)


def import_(values: dict[str, Any]) -> None:
    with open_bundle(Path(values["bundle_file"]).expanduser().absolute()) as bundle:  # every byte checked first
        bring_in("import", bundle, values)


def merge(values: dict[str, Any]) -> None:
    if not values["from_home"]:
        raise UsageProblem("--from-home OTHER_HOME is required: the home to take threads from")
    source_home = discover(Path(values["from_home"]).expanduser().absolute())
    report = run_audit(source_home, now=context.make_services().clock.now(), progress=scan_progress(values["json_"]))
    bundle = collect(report, require_known_threads(filters_of(values), report), source_home)
    bring_in("merge", bundle, values)


import_cmd = command("import", IMPORTING,
                     import_, "Bring a bundle's threads into this home, checked first; dry run by default.\n\n"
                     "Example: codex-sessions import moved.zip --to-provider azure --from-folder /old/proj "
                     "--to-folder /new/proj", arguments=(BUNDLE_FILE,))
merge_cmd = command("merge", (OTHER_HOME, *FILTERS, *IMPORTING), merge,
                    "Bring threads straight from another home (a WSL home, a restored backup); dry run by "
                    "default.\n\nExample: codex-sessions merge --from-home /mnt/backup/.codex")
