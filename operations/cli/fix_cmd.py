"""`fix`: one command from "my sessions are gone" to "they are back" (dry run by default); its
options and phases come from the registry (operations/registry.py), its work from the pipeline."""

from __future__ import annotations

import sys
from typing import Any

from operations import pipeline, registry
from operations.cli import context
from operations.cli.build import command
from operations.cli.fix_view import fix_data, render_fix
from operations.cli.options import apply_progress
from operations.cli.output import echo, emit, scan_progress, warn
from operations.cli.plan_view import closing, emit_applied, refusal_data
from operations.gc_pause import paused_gc
from operations.home import discover
from operations.locations import resolve_codex_home
from operations.option_specs import FILTERS, RUNNING
from operations.option_values import filters_of, with_mappings
from operations.repair.fix import FixOptions, fix_job, outline
from operations.repair.selection import RepairContext

DOC = """Make every recoverable session visible again: relocate-home, repair-paths, import-orphans and
migrate-provider as this home needs them (plus --unarchive, --forget-missing, folder rewrites when
asked), as one journaled run that `undo RUN` takes back whole.

Example: codex-sessions fix; then codex-sessions fix --apply
"""


def fix(values: dict[str, Any]) -> None:
    values = with_mappings(values)
    opts = FixOptions(values["to_provider"], values["unarchive"], values["forget_missing"], values["mappings"],
                      values["from_style"], values["force"], values["desktop"])
    json_, apply = values["json_"], values["apply"]
    home = discover(resolve_codex_home(values["codex_home"]), values["db"], journal=values["journal"])
    services = context.make_services()
    flt = filters_of(values)
    with context.writer_if(apply, home.journal, services, sys.argv[1:]) as writer:
        with paused_gc():  # the preview, and a dry run's output, build what they keep (operations/gc_pause.py)
            seen = pipeline.preview(home, services, flt, lambda report, f: fix_job(report, f, opts), apply=apply,
                                    progress=scan_progress(json_))
            plan = outline(RepairContext(home, seen.report, services.clock.now()), seen.filters, opts, seen.plans)
            warnings = seen.warnings + [w for p in plan.phases for w in p.warnings]
            data: dict[str, Any] = {"dry_run": not apply, "options": opts.describe(),
                                    "filters": seen.filters.describe(), **(fix_data(plan) if json_ else {}),
                                    "warnings": warnings,  # every operation as JSON only when asked
                                    "apply_refused": refusal_data(seen)}
            for w in [] if json_ else warnings:
                warn(f"warning: {w}")
            if writer is None or not plan.op_count:
                def dry() -> None:
                    for reason in seen.apply_refused:
                        echo(f"--apply WOULD BE REFUSED: {reason.detail}")
                    render_fix(plan, values["verbose"])
                    echo(closing(seen) if writer is None else "nothing to apply")

                emit("fix", data, json_, dry)
                return
        done = pipeline.apply(seen, writer, services, argv=sys.argv[1:], progress=apply_progress(json_))
    data["after"] = {k: v["summary"] for k, v in done.after.visibility.items()}

    def now() -> None:
        for text in data["after"].values():
            echo(f"now: {text}")

    emit_applied("fix", done, data, json_, values["verbose"], first=now)


fix_cmd = command("fix", (*registry.fix_options(), *FILTERS, *RUNNING), fix, DOC)
