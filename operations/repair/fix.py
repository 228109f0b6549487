"""`fix`: from one audit, everything that makes recoverable sessions visible again.

Its phases are the registered operations that declare one (operations/registry.py), in the
order of the recovery method this project grew from: point rows copied from another home at
the files here, put moved files back, import orphans, migrate providers; then, only when asked,
rewrite folders, unarchive (archiving is usually deliberate) and retire rows whose rollout
exists nowhere. Applied as one journaled run whose phases are each planned once the previous
one is durable, so `undo RUN` takes the whole fix back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from operations.advice import how_to_see
from operations.audit_model import AuditReport, ThreadAudit
from operations.audit_summary import predict, summaries
from operations.operation import FixState, Operation
from operations.pipeline import Job, PhasePlanner
from operations.registry import fix_phases, target_provider
from operations.repair.cwd import Mapping
from operations.repair.plan import Plan
from operations.repair.selection import RepairContext, ThreadFilter
from operations.visibility import Facts, label

DESKTOP_PHASES = ("restore-desktop-state", "rebuild-desktop-state")  # only with --desktop (issue 22)
STILL_HIDDEN_SAMPLE = 5


@dataclass(frozen=True)
class FixOptions:
    to: str | None = None  # default: the configured provider
    unarchive: bool = False
    forget_missing: bool = False
    mappings: tuple[Mapping, ...] = ()
    from_style: str = "posix"
    force: bool = False
    desktop: bool = False  # also repair the desktop app's state file (issue 22)

    def args(self) -> dict[str, Any]:
        """As the phases' option values."""
        return {"to_provider": self.to, "unarchive": self.unarchive, "forget_missing": self.forget_missing,
                "mappings": self.mappings, "from_style": self.from_style, "force": self.force,
                "desktop": self.desktop}

    def describe(self) -> dict[str, Any]:
        return {"to": self.to, "unarchive": self.unarchive, "forget_missing": self.forget_missing,
                "map": [[m.source, m.target] for m in self.mappings], "from_style": self.from_style,
                "force": self.force, "desktop": self.desktop}


@dataclass
class FixPlan:
    """What `fix` plans and predicts: each client's summary and, per reason, how many stay hidden
    with a few samples; every thread as predicted (`after`) only when asked for (the CLI does not
    keep it: at 50,000 sessions it is a second copy of the audit)."""

    phases: list[Plan]
    target_provider: str
    predicted: dict[str, Any] = field(default_factory=dict)
    still_hidden: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    after: list[ThreadAudit] = field(default_factory=list)

    @property
    def op_count(self) -> int:
        return sum(len(p.ops) for p in self.phases)


def wanted_phases(report: AuditReport, flt: ThreadFilter, opts: FixOptions) -> list[Operation]:
    """The phases this home needs (a phase with nothing to do is not run)."""
    chosen = [t for t in report.threads if flt.matches(t)]
    problems = Counter(p for t in chosen for p in t.problems)
    args = opts.args()
    out: list[Operation] = []
    for op in fix_phases():
        assert op.fix is not None
        if op.fix.needed(FixState(report, chosen, args, tuple(o.name for o in out), problems)):
            out.append(op)
    return out


def phase_planner(op: Operation, opts: FixOptions) -> PhasePlanner:
    """How fix plans this phase: as `run` does, with fix's option values (or as the phase says)."""
    args = {**{spec.name: spec.empty for spec in op.options}, **opts.args()}  # already prepared by fix
    plan = op.fix.plan if op.fix is not None and op.fix.plan is not None else op.plan

    def planner(ctx: RepairContext, flt: ThreadFilter) -> Plan:
        return plan(ctx, flt, args)

    return planner


def fix_job(report: AuditReport, flt: ThreadFilter, opts: FixOptions) -> Job:
    """The pipeline's job for this home: the phases it needs, each planned as `fix` plans it."""
    ops = wanted_phases(report, flt, opts)
    return Job("fix", [phase_planner(op, opts) for op in ops], all_databases=True, app_state=opts.desktop,
               meta={"operation": "fix", "options": opts.describe(), "phases": [op.name for op in ops]})


def plan_fix(ctx: RepairContext, flt: ThreadFilter, opts: FixOptions, *, keep_after: bool = True) -> FixPlan:
    """Every phase planned against this one audit (the apply re-plans each later phase on the
    state the previous ones left), and the visibility predicted afterwards."""
    job = fix_job(ctx.report, flt, opts)
    return outline(ctx, flt, opts, [planner(ctx, flt) for planner in job.phases], keep_after=keep_after)


def outline(ctx: RepairContext, flt: ThreadFilter, opts: FixOptions, phases: list[Plan], *,
            keep_after: bool = False) -> FixPlan:
    """The phases' plans with what they predict and note."""
    fix = FixPlan(phases, target_provider(ctx, opts.args()))
    after = predict(ctx.report, _changes(phases))
    fix.predicted = summaries(after, ctx.report.current_provider)
    fix.still_hidden = _still_hidden(after, flt)
    if keep_after:
        fix.after = after
    del after
    by_name = {op.name: op for op in fix_phases()}
    for plan in phases:
        phase = by_name.get(plan.operation)
        if phase is not None and phase.fix is not None and phase.fix.notes is not None:
            if phase.fix.follows and not any(p.operation in phase.fix.follows and p.ops for p in phases):
                continue  # its notes are about what the phases it follows change
            fix.notes += phase.fix.notes(plan, ctx)
    return fix


def _changes(phases: list[Plan]) -> dict[str, Callable[[Facts], Facts] | None]:
    """What the planned phases change in each touched thread's facts, as Codex will see them (None:
    the thread is retired)."""
    by_name = {op.name: op for op in fix_phases()}
    touched: dict[str, list[Plan]] = {}
    for plan in phases:
        for op in plan.ops:
            plans = touched.setdefault(op.subject, []) if op.subject else None
            if plans is not None and (not plans or plans[-1] is not plan):
                plans.append(plan)
    out: dict[str, Callable[[Facts], Facts] | None] = {}
    for thread, plans in touched.items():
        ops = [(by_name[p.operation], p) for p in plans if p.operation in by_name]
        out[thread] = None if any(op.retires for op, _ in ops) else _chain(
            [(op.predict, p) for op, p in ops if op.predict is not None])
    return out


def _chain(steps: list[tuple[Callable[[Facts, Plan], Facts], Plan]]) -> Callable[[Facts], Facts]:
    def change(f: Facts) -> Facts:
        for predict_one, plan in steps:
            f = predict_one(f, plan)
        return f

    return change


def _still_hidden(after: list[ThreadAudit], flt: ThreadFilter) -> list[dict[str, Any]]:
    """Per reason, the threads the IDE list will still hide and how to see them anyway."""
    counts: Counter[str] = Counter()
    samples: dict[str, list[str]] = {}
    for t in after:
        if t.ide is None or t.ide.listed or not flt.matches(t):
            continue
        for reason in t.ide.reasons:
            counts[reason.kind] += 1
            sample = samples.setdefault(reason.kind, [])
            sample.append(t.id)
            if len(sample) > 4 * STILL_HIDDEN_SAMPLE:
                sample[:] = sorted(sample)[:STILL_HIDDEN_SAMPLE]
    return [{"reason": label(kind), "kind": kind, "count": n, "sample": sorted(samples[kind])[:STILL_HIDDEN_SAMPLE],
             "how_to_see": how_to_see(kind)} for kind, n in counts.most_common()]
