"""`fix`: from one audit, everything that makes recoverable sessions visible again.

Phases, in the order of the recovery method this project grew from: point rows copied
from another home at the files here, put moved files back, import orphans, migrate
providers; then, only when asked, rewrite folders (`--map`/`--from`/`--to`), unarchive
(archiving is usually deliberate) and retire rows whose rollout exists nowhere. Applied as
one journaled run whose phases are each planned once the previous one is durable, so
`undo RUN` takes the whole fix back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from journal.errors import UsageProblem
from operations.audit_model import AuditReport, ThreadAudit
from operations.audit_summary import predict, summaries
from operations.desktop.assign import plan_assign_projects
from operations.desktop.rebuild import plan_rebuild_state
from operations.desktop.restore import plan_restore_state
from operations.path_spelling import rewrite
from operations.repair.archive import plan_archive_change
from operations.repair.cwd import Mapping, plan_rewrite_cwd
from operations.repair.forget import plan_forget_missing
from operations.repair.orphans import plan_import_orphans
from operations.repair.plan import Plan
from operations.repair.provider import default_provider, plan_migrate_provider
from operations.repair.relocate import plan_relocate_home
from operations.repair.repair_paths import plan_repair_paths
from operations.repair.selection import RepairContext, ThreadFilter
from operations.visibility import Facts, reason_kind

PHASES = ("relocate-home", "repair-paths", "import-orphans", "migrate-provider", "rewrite-cwd", "unarchive",
          "forget-missing", "assign-projects", "restore-desktop-state", "rebuild-desktop-state")
DESKTOP_PHASES = ("restore-desktop-state", "rebuild-desktop-state")  # only with --desktop (issue 22)

# how to see what a fix leaves hidden, by reason kind
HOW_TO_SEE = {
    "source": "not an interactive session (e.g. `codex exec`): `codex resume --include-non-interactive` lists "
              "it; the IDE and the app do not",
    "archived": "archived: add --unarchive, or find it in Codex's archived list",
    "scan window": "older than Codex's 10,000-file scan window: resume it by id (`codex resume ID`), or archive "
                   "newer sessions you no longer need",
    "empty preview": "it has no user message, so Codex never lists it: resume it by id (`codex resume ID`)",
    "file": "no readable rollout for it here: nothing Codex can list",
    "provider": "it belongs to another provider than Codex's current one: fix --to that provider, or switch "
                "Codex's provider",
    "recent window": "beyond the desktop app's 50 most recent: pin it in the app, or open it from the IDE list",
}
ENCRYPTED_NOTE = ("a thread migrated from another provider or account may list but not resume if it carries "
                  "encrypted reasoning that only its original account can read")


@dataclass(frozen=True)
class FixOptions:
    to: str | None = None  # default: the configured provider
    unarchive: bool = False
    forget_missing: bool = False
    mappings: tuple[Mapping, ...] = ()
    from_style: str = "posix"
    force: bool = False
    desktop: bool = False  # also repair the desktop app's state file (issue 22)

    def describe(self) -> dict[str, Any]:
        return {"to": self.to, "unarchive": self.unarchive, "forget_missing": self.forget_missing,
                "map": [[m.source, m.target] for m in self.mappings], "from_style": self.from_style,
                "force": self.force, "desktop": self.desktop}


@dataclass
class FixPlan:
    phases: list[Plan]
    target_provider: str
    predicted: dict[str, Any] = field(default_factory=dict)
    still_hidden: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    after: list[ThreadAudit] = field(default_factory=list)  # every thread as predicted afterwards

    @property
    def op_count(self) -> int:
        return sum(len(p.ops) for p in self.phases)


def wanted_phases(report: AuditReport, flt: ThreadFilter, opts: FixOptions) -> list[str]:
    """The phases this home needs (a phase with nothing to do is not run)."""
    chosen = [t for t in report.threads if flt.matches(t)]
    problems = Counter(p for t in chosen for p in t.problems)
    out = []
    if any("rollout_path_outside_home" in t.problems and "db_not_on_disk" not in t.problems for t in chosen):
        out.append("relocate-home")
    if problems["missing_rollout_path"] or problems["rollout_path_outside_home"]:
        out.append("repair-paths")
    if problems["disk_not_in_db"]:
        out.append("import-orphans")
    out.append("migrate-provider")
    if opts.mappings:
        out.append("rewrite-cwd")
    if opts.unarchive:
        out.append("unarchive")
    if opts.forget_missing:
        out.append("forget-missing")
    desktop = report.desktop  # issue 22: projects in state_5, and with --desktop the app's state file
    if desktop is not None and desktop.projects.projects and (
            desktop.findings.get("project_claimable") or opts.mappings or "import-orphans" in out):
        out.append("assign-projects")
    if opts.desktop and desktop is not None and desktop.state.exists:
        out += list(DESKTOP_PHASES) if not desktop.state.healthy else ["rebuild-desktop-state"]
    return out


def plan_phase(name: str, ctx: RepairContext, flt: ThreadFilter, opts: FixOptions) -> Plan:
    if name == "relocate-home":
        try:
            return plan_relocate_home(ctx, flt, None)
        except UsageProblem:
            return Plan(name)
    if name == "repair-paths":
        return plan_repair_paths(ctx, flt)
    if name == "import-orphans":
        return plan_import_orphans(ctx, flt)
    if name == "migrate-provider":
        return plan_migrate_provider(ctx, flt, target_provider(ctx, opts), force=opts.force)
    if name == "rewrite-cwd":
        return plan_rewrite_cwd(ctx, flt, list(opts.mappings), opts.from_style)
    if name == "unarchive":
        return plan_archive_change(ctx, flt, archive=False)
    if name == "forget-missing":
        return plan_forget_missing(ctx, flt)
    if name == "assign-projects":
        return plan_assign_projects(ctx, flt)
    if name == "restore-desktop-state":
        return plan_restore_state(ctx, flt)
    if name == "rebuild-desktop-state":
        return plan_rebuild_state(ctx, flt)
    raise ValueError(name)


def target_provider(ctx: RepairContext, opts: FixOptions) -> str:
    return opts.to or default_provider(ctx.home)


def plan_fix(ctx: RepairContext, flt: ThreadFilter, opts: FixOptions) -> FixPlan:
    """Every phase planned against this one audit (the apply re-plans each phase on the state the
    previous ones left), and the visibility predicted afterwards."""
    phases = [plan_phase(name, ctx, flt, opts) for name in wanted_phases(ctx.report, flt, opts)]
    target = target_provider(ctx, opts)
    fix = FixPlan(phases, target)
    changes = _changes(ctx, phases, opts, target)
    after = predict(ctx.report, changes)
    fix.after = after
    fix.predicted = summaries(after, ctx.report.current_provider)
    fix.still_hidden = _still_hidden(after, flt)
    if any(p.operation == "migrate-provider" and p.ops for p in phases):
        fix.notes.append(ENCRYPTED_NOTE)
    if opts.unarchive and any(p.operation == "import-orphans" and p.ops for p in phases):
        fix.notes.append("orphans in archived_sessions/ are unarchived too, once imported (the apply plans each "
                         "phase on what the previous one left)")
    names = {p.operation for p in phases if p.ops}
    if "assign-projects" in names and "rebuild-desktop-state" in {p.operation for p in phases}:
        fix.notes.append("the desktop app's assignments are rebuilt once assign-projects is applied, so they will "
                         "include the threads it assigns (this dry run plans the rebuild on today's rows)")
    if target != ctx.report.current_provider:
        fix.notes.append(f"threads go to `{target}`, but Codex lists `{ctx.report.current_provider}` (config.toml): "
                         f"they stay hidden until Codex's provider is `{target}`")
    return fix


def _changes(ctx: RepairContext, phases: list[Plan], opts: FixOptions,
             target: str) -> dict[str, Callable[[Facts], Facts] | None]:
    """What each planned phase changes in a thread's facts, as Codex will see them."""
    touched: dict[str, set[str]] = {}
    for plan in phases:
        for op in plan.ops:
            if op.subject:
                touched.setdefault(op.subject, set()).add(plan.operation)
    out: dict[str, Callable[[Facts], Facts] | None] = {}
    for thread, names in touched.items():
        if "forget-missing" in names:
            out[thread] = None
            continue
        out[thread] = _facts_change(names, opts, target)
    return out


def _facts_change(names: set[str], opts: FixOptions, target: str) -> Callable[[Facts], Facts]:
    def change(f: Facts) -> Facts:
        if names & {"relocate-home", "repair-paths", "import-orphans"}:
            f.row_file = True  # a row that points at its file
        if "repair-paths" in names:
            f.in_scan, f.file_problem = True, None  # the file is back where Codex's scan looks
        if "migrate-provider" in names:
            f.provider = target
        if "unarchive" in names or (opts.unarchive and "import-orphans" in names):
            f.archived = False  # an imported orphan gets its row first, then is unarchived with the rest
        if "rewrite-cwd" in names:
            for m in opts.mappings:
                new = rewrite(f.cwd, m.source, m.target, opts.from_style)
                if new is not None:
                    f.cwd = new
                    break
        return f

    return change


def _still_hidden(after: list[ThreadAudit], flt: ThreadFilter) -> list[dict[str, Any]]:
    """Per reason, the threads the IDE list will still hide and how to see them anyway."""
    by_kind: dict[str, list[str]] = {}
    for t in after:
        if t.ide is None or t.ide.listed or not flt.matches(t):
            continue
        for reason in t.ide.reasons:
            by_kind.setdefault(reason_kind(reason), []).append(t.id)
    return [{"reason": kind, "count": len(ids), "sample": sorted(ids)[:5],
             "how_to_see": HOW_TO_SEE.get(kind, "")} for kind, ids in sorted(by_kind.items(),
                                                                            key=lambda kv: -len(kv[1]))]
