"""The one way a writing command runs: `preview` (one running-Codex check, one audit, the table
shapes judged once, the plan) and `apply` (the one gate, online backups, the journaled run, the
audit afterwards). `run`, `fix`, `import` and `merge` go through here and only parse and render.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journal.clock import Services
from journal.runner import PlannedOp, RunResult, execute_phased_run
from journal.store import JournalWriter
from operations.audit import run_audit
from operations.audit_model import AuditReport
from operations.backups import Backup, take_backups
from operations.desktop.statefile import writes_state_file
from operations.gate import GateReason, Shapes, admit, databases_touched, judge_shapes, preflight, unwritable
from operations.gc_pause import paused_gc
from operations.home import CodexHome
from operations.repair.plan import Plan
from operations.repair.selection import RepairContext, ThreadFilter, require_known_threads
from operations.running import RunningCheck, check_running
from operations.runreport import before_after

PhasePlanner = Callable[[RepairContext, ThreadFilter], Plan]


@dataclass(frozen=True)
class Job:
    """What a command asks: `command` as the journal records it; `phases` planned in order (each
    later one re-planned, when applied, on what the earlier ones left); `all_databases`: back up
    every database of the home, not only those the first plan touches (a later phase may touch
    others); `app_state`: a phase may write the desktop app's state file; `meta`: what the run
    records besides; `before_write`: a last step before the first byte (import stages files)."""

    command: str
    phases: Sequence[PhasePlanner]
    all_databases: bool = False
    app_state: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    before_write: Callable[[Preview], None] | None = None


@dataclass
class Preview:
    """A command's dry run, as data: the audit it planned on, the plans, what would refuse `--apply`."""

    home: CodexHome
    job: Job
    report: AuditReport
    running: RunningCheck
    filters: ThreadFilter
    plans: list[Plan]
    dbs: list[Path]
    shapes: Shapes
    warnings: list[str]  # the shapes' warnings and the threads that could not be read
    apply_refused: list[GateReason] = field(default_factory=list)
    now_ns: int = 0

    @property
    def op_count(self) -> int:
        return sum(len(p.ops) for p in self.plans)

    @property
    def left_alone(self) -> int:
        return sum(len(p.left_alone) for p in self.plans)


@dataclass
class Applied:
    """What `--apply` did: the run, the backups taken before it, and the home audited again."""

    preview: Preview
    result: RunResult
    backups: list[Backup]
    after: AuditReport
    report: dict[str, Any]


JobChoice = Callable[[AuditReport, ThreadFilter], Job]


def preview(home: CodexHome, services: Services, flt: ThreadFilter, job: Job | JobChoice, *, apply: bool,
            progress: Callable[[int], None] | None = None) -> Preview:
    """Check once, audit once, plan each phase; the gate's reasons collected (for a dry run) or the
    state database's shape refused at once (for an apply: nothing is planned on a table this tool
    does not know). `job` may be chosen from the audit (`fix` runs the phases the home needs)."""
    running = check_running(home.codex_home, home.databases)  # the one process scan of this command
    report = run_audit(home, now=services.clock.now(), progress=progress, running=running)
    if apply:
        state_refusal = unwritable(judge_shapes(report.schema, ()))
        if state_refusal is not None:
            raise state_refusal
    flt = require_known_threads(flt, report)
    ctx = RepairContext(home, report, services.clock.now())
    if not isinstance(job, Job):
        job = job(report, flt)
    with paused_gc():  # a plan of 50,000 operations is built of acyclic objects (operations/gc_pause.py)
        plans = [phase(ctx, flt) for phase in job.phases]
    effects = [e for p in plans for op in p.ops for e in op.effects]
    dbs = databases_touched(home, effects)
    if job.all_databases:
        dbs = sorted({*dbs, *home.databases})
    shapes = judge_shapes(report.schema, dbs)
    warnings = list(shapes.warnings) + ctx.unreadable(flt)
    app_state = job.app_state or writes_state_file(effects)
    refused = preflight(home, dbs, shapes, app_state=app_state, running=running) if not apply and effects else []
    return Preview(home, job, report, running, flt, plans, dbs, shapes, warnings, refused, ctx.now_ns)


def apply(seen: Preview, writer: JournalWriter, services: Services, *, argv: Sequence[str],
          progress: Callable[[int, int], None] | None = None, meta: dict[str, Any] | None = None) -> Applied:
    """The gate, online backups, then one journaled run (the caller holds the journal's lock since
    before it planned); each later phase is planned on what the earlier ones left. `meta`: what
    the run records besides the job's own."""
    home, report, flt, job = seen.home, seen.report, seen.filters, seen.job
    effects = [e for p in seen.plans for op in p.ops for e in op.effects]
    admit(home, seen.dbs, seen.shapes, app_state=job.app_state or writes_state_file(effects), running=seen.running)
    if job.before_write is not None:
        job.before_write(seen)
    backups = take_backups(seen.dbs, Path(writer.path), services)
    meta = {**job.meta, **(meta or {}), "filters": flt.describe(), "codex_home": str(home.codex_home),
            "state_db": str(home.state_db),
            "schema": {"max_migration": report.schema.max_migration if report.schema else None},
            "backups": [b.__dict__ for b in backups]}

    def later(phase: PhasePlanner) -> Callable[[], Sequence[PlannedOp]]:
        def plan_now() -> Sequence[PlannedOp]:
            fresh = run_audit(home, now=services.clock.now(), previous=report, running=seen.running)
            return phase(RepairContext(home, fresh, services.clock.now()), flt).ops

        return plan_now

    first = seen.plans[0].ops
    phases = [lambda: first, *[later(p) for p in job.phases[1:]]]
    result = execute_phased_run(writer, job.command, phases, argv=argv, meta=meta, guard=home.guard(),
                                progress=progress)
    after = run_audit(home, now=services.clock.now(), previous=report, running=seen.running)
    return Applied(seen, result, backups, after, before_after(report, after))
