"""Every operation, registered in this one place: `run NAME` for each, and the phases of `fix`,
are built from here (operations/cli/build.py, operations/repair/fix.py). Adding one:
docs/adding-an-operation.md."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from journal.errors import UsageProblem
from operations.desktop.assign import plan_assign_projects
from operations.desktop.rebuild import plan_rebuild_state
from operations.desktop.restore import plan_restore_state
from operations.errors import ConfigRefused
from operations.home import CodexHome
from operations.operation import Args, FixPhase, FixState, Operation, OptionSpec
from operations.option_specs import FOLDERS, FORCE_PROVIDER, FROM_HOME, without_deprecated
from operations.option_values import non_empty, with_mappings
from operations.path_spelling import rewrite
from operations.repair.archive import plan_archive_change
from operations.repair.cwd import plan_rewrite_cwd
from operations.repair.forget import plan_forget_missing
from operations.repair.orphans import plan_import_orphans
from operations.repair.plan import Plan
from operations.repair.provider import plan_migrate_provider
from operations.repair.relocate import plan_relocate_home
from operations.repair.repair_paths import plan_repair_paths
from operations.repair.selection import RepairContext, ThreadFilter
from operations.visibility import Facts

ENCRYPTED_NOTE = ("a thread migrated from another provider or account may list but not resume if it carries "
                  "encrypted reasoning that only its original account can read")


def default_provider(home: CodexHome) -> str:
    """The provider a migration goes to when none is named: config.toml's. Refused when Codex
    cannot use config.toml itself (it then runs with its defaults), which is rarely what was meant."""
    if home.config.error:
        raise ConfigRefused(f"{home.config.error}. Fix config.toml first, or name the provider with --to-provider")
    return home.config.model_provider


def target_provider(ctx: RepairContext, args: Args) -> str:
    return str(args.get("to_provider") or default_provider(ctx.home))


# --- what Codex will see once each is applied -----------------------------------------------------
def _row_points_at_file(f: Facts, _plan: Plan) -> Facts:
    f.row_file = True
    return f


def _file_back_in_place(f: Facts, _plan: Plan) -> Facts:
    f.row_file, f.in_scan, f.file_problem = True, True, None  # the file is back where Codex's scan looks
    return f


def _imported(f: Facts, plan: Plan) -> Facts:
    f.row_file = True
    if plan.options.get("then_unarchive"):
        f.archived = False  # `fix --unarchive`: an imported orphan gets its row, then is unarchived with the rest
    return f


def _archived(value: bool) -> Callable[[Facts, Plan], Facts]:
    def change(f: Facts, _plan: Plan) -> Facts:
        f.archived = value
        return f

    return change


def _migrated(f: Facts, plan: Plan) -> Facts:
    f.provider = str(plan.options["to"])
    return f


def _cwd_rewritten(f: Facts, plan: Plan) -> Facts:
    style = str(plan.options.get("from_style", "posix"))
    for pair in plan.options.get("map", []):
        new = rewrite(f.cwd, pair["source"], pair["target"], style)
        if new is not None:
            f.cwd = new
            break
    return f


# --- planners, from option values ---------------------------------------------------------------
def _migrate(ctx: RepairContext, flt: ThreadFilter, args: Args) -> Plan:
    return plan_migrate_provider(ctx, flt, target_provider(ctx, args), sources=tuple(args.get("from_provider") or ()),
                                 db_only=bool(args.get("db_only")), force=bool(args.get("force")))


def _rewrite_cwd(ctx: RepairContext, flt: ThreadFilter, args: Args) -> Plan:
    return plan_rewrite_cwd(ctx, flt, list(args["mappings"]), str(args.get("from_style") or "posix"))


def _import_orphans(ctx: RepairContext, flt: ThreadFilter, args: Args) -> Plan:
    plan = plan_import_orphans(ctx, flt, via_backfill=bool(args.get("via_backfill")))
    if args.get("unarchive"):
        plan.options["then_unarchive"] = True
    return plan


def _relocate_if_any(ctx: RepairContext, flt: ThreadFilter, args: Args) -> Plan:
    """In `fix`: nothing to relocate is an empty phase, not an error."""
    try:
        return plan_relocate_home(ctx, flt, None)
    except UsageProblem:
        return Plan("relocate-home")


# --- fix's own options ----------------------------------------------------------------------------
UNARCHIVE = OptionSpec("unarchive", ("--unarchive",), bool, help="Also unarchive archived threads.")
FORGET_MISSING = OptionSpec("forget_missing", ("--forget-missing",), bool,
                            help="Retire rows whose rollout exists nowhere (journaled, undoable).")
DESKTOP = OptionSpec("desktop", ("--desktop",), bool,
                     help="Also repair the desktop app's .codex-global-state.json: from its .bak when damaged, and "
                          "its lost projects and assignments from state_5 (the app must be closed).")
FROM_PROVIDER = OptionSpec("from_provider", ("--from-provider",), metavar="PROVIDER", repeatable=True,
                           deprecated=("--from",), check=non_empty,
                           help="Only threads of these providers (repeatable).")
DB_ONLY = OptionSpec("db_only", ("--db-only",), bool, help="The row only, as the seed did (current Codex reverts it).")
VIA_BACKFILL = OptionSpec("via_backfill", ("--via-backfill",), bool,
                          help="Reset backfill_state so Codex rebuilds the rows itself.")
MIGRATE_TO = OptionSpec("to_provider", ("--to-provider",), metavar="PROVIDER", deprecated=("--to",),
                        check=non_empty,
                        help="The provider to migrate to (default: config.toml's).")
FIX_TO = OptionSpec("to_provider", ("--to-provider",), metavar="PROVIDER", deprecated=("--to",), check=non_empty,
                    help="Provider to migrate threads to (default: config.toml's).")


def _relocate_needed(state: FixState) -> bool:
    return any("rollout_path_outside_home" in t.problems and "db_not_on_disk" not in t.problems
               for t in state.chosen)


def _assign_needed(state: FixState) -> bool:
    desktop = state.report.desktop
    return desktop is not None and bool(desktop.projects.projects) and bool(
        desktop.findings.get("project_claimable") or state.args.get("mappings") or "import-orphans" in state.phases)


def _restore_needed(state: FixState) -> bool:
    desktop = state.report.desktop
    return bool(state.args.get("desktop")) and desktop is not None and desktop.state.exists and \
        not desktop.state.healthy


def _rebuild_needed(state: FixState) -> bool:
    desktop = state.report.desktop
    return bool(state.args.get("desktop")) and desktop is not None and desktop.state.exists


def _migrate_notes(plan: Plan, ctx: RepairContext) -> list[str]:
    notes = [ENCRYPTED_NOTE] if plan.ops else []
    target = plan.options.get("to")
    if target and target != ctx.report.current_provider:
        notes.append(f"threads go to `{target}`, but Codex lists `{ctx.report.current_provider}` (config.toml): they "
                     f"stay hidden until Codex's provider is `{target}`")
    return notes


def _import_notes(plan: Plan, _ctx: RepairContext) -> list[str]:
    if plan.ops and plan.options.get("then_unarchive"):
        return ["orphans in archived_sessions/ are unarchived too, once imported (the apply plans each phase on "
                "what the previous one left)"]
    return []


def _rebuild_notes(_plan: Plan, ctx: RepairContext) -> list[str]:
    return ["the desktop app's assignments are rebuilt once assign-projects is applied, so they will include the "
            "threads it assigns (this dry run plans the rebuild on today's rows)"]


OPERATIONS: list[Operation] = [
    Operation("relocate-home", "A home was copied or moved: point every rollout_path in OLD_HOME at the same file "
              "in this home.", "codex-sessions run relocate-home --from-home /mnt/old/.codex",
              lambda ctx, flt, args: plan_relocate_home(ctx, flt, args.get("from_home")),
              options=(FROM_HOME,), predict=_row_points_at_file,
              fix=FixPhase(10, _relocate_needed, plan=_relocate_if_any)),
    Operation("repair-paths", "Put a moved rollout where Codex keeps it (mtime kept) and point its row at it.",
              "codex-sessions run repair-paths", lambda ctx, flt, args: plan_repair_paths(ctx, flt),
              predict=_file_back_in_place,
              fix=FixPhase(20, lambda s: bool(s.problems["missing_rollout_path"]
                                              or s.problems["rollout_path_outside_home"]))),
    Operation("import-orphans", "Give a rollout with no row the row Codex would derive from it (never a live "
              "session).", "codex-sessions run import-orphans", _import_orphans, options=(VIA_BACKFILL,),
              predict=_imported, fix=FixPhase(30, lambda s: bool(s.problems["disk_not_in_db"]), notes=_import_notes)),
    Operation("migrate-provider", "Make threads of other providers belong to PROVIDER, in the rollout and the row, "
              "durably.", "codex-sessions run migrate-provider --to-provider openai --from-provider azure", _migrate,
              options=(MIGRATE_TO, FROM_PROVIDER, DB_ONLY, FORCE_PROVIDER), predict=_migrated,
              fix=FixPhase(40, lambda s: True, options=(FIX_TO, FORCE_PROVIDER), notes=_migrate_notes)),
    Operation("rewrite-cwd", "A project folder was renamed or moved: rewrite the cwd wherever Codex reads it, "
              "offsets kept true.", "codex-sessions run rewrite-cwd --from-folder /old/proj --to-folder /new/proj",
              _rewrite_cwd, options=FOLDERS, prepare=with_mappings, predict=_cwd_rewritten,
              fix=FixPhase(50, lambda s: bool(s.args.get("mappings")),
                           options=tuple(without_deprecated(o) for o in FOLDERS))),
    Operation("unarchive", "As `codex unarchive`: the file back to its dated folder (mtime touched), the row "
              "unarchived.", "codex-sessions run unarchive --since 2026-01-01",
              lambda ctx, flt, args: plan_archive_change(ctx, flt, archive=False), predict=_archived(False),
              fix=FixPhase(60, lambda s: bool(s.args.get("unarchive")), options=(UNARCHIVE,))),
    Operation("archive", "As `codex archive`: the file to archived_sessions/ (mtime kept), the row archived.",
              "codex-sessions run archive --thread 01a2",
              lambda ctx, flt, args: plan_archive_change(ctx, flt, archive=True), predict=_archived(True)),
    Operation("forget-missing", "Delete rows whose rollout exists nowhere in this home (the whole row journaled: "
              "undo puts it back).", "codex-sessions run forget-missing",
              lambda ctx, flt, args: plan_forget_missing(ctx, flt), retires=True,
              fix=FixPhase(70, lambda s: bool(s.args.get("forget_missing")), options=(FORGET_MISSING,))),
    Operation("assign-projects", "Give a thread with no project the one project whose roots hold its folder "
              "(threads.project_id).", "codex-sessions run assign-projects",
              lambda ctx, flt, args: plan_assign_projects(ctx, flt),
              description="Two projects that could both claim it: left alone, never guessed.",
              fix=FixPhase(80, _assign_needed)),
    Operation("restore-desktop-state", "The desktop app's .codex-global-state.json does not parse or holds NUL "
              "bytes: put its own .bak back.", "codex-sessions run restore-desktop-state --apply",
              lambda ctx, flt, args: plan_restore_state(ctx, flt), filters=False, app_state=True,
              description="Refused while the desktop app runs.",
              fix=FixPhase(90, _restore_needed, options=(DESKTOP,))),
    Operation("rebuild-desktop-state", "Bring back the desktop app's lost projects and thread assignments from "
              "state_5.", "codex-sessions run rebuild-desktop-state",
              lambda ctx, flt, args: plan_rebuild_state(ctx, flt), filters=False, app_state=True,
              description="Completes local-projects, project-order, the legacy-id map and thread-project-assignments;"
                          " refused while the desktop app runs, or when the file holds entries of a shape this tool "
                          "does not know.",
              fix=FixPhase(100, _rebuild_needed, options=(DESKTOP,), follows=("assign-projects",),
                           notes=_rebuild_notes)),
]


def register(operation: Operation) -> None:
    """Add an operation (its name must be new); build the CLI after registering."""
    if any(op.name == operation.name for op in OPERATIONS):
        raise ValueError(f"an operation named {operation.name} is registered already")
    OPERATIONS.append(operation)


def unregister(name: str) -> None:
    OPERATIONS[:] = [op for op in OPERATIONS if op.name != name]


def operations() -> Iterator[Operation]:
    return iter(list(OPERATIONS))


def get(name: str) -> Operation:
    for op in OPERATIONS:
        if op.name == name:
            return op
    raise KeyError(name)


def fix_phases() -> list[Operation]:
    """The operations `fix` may run, in the order of the recovery method."""
    phased = [op for op in OPERATIONS if op.fix is not None]
    return sorted(phased, key=lambda op: op.fix.order if op.fix else 0)


def fix_options() -> tuple[OptionSpec, ...]:
    """fix's options, from its phases (each once)."""
    seen: dict[str, OptionSpec] = {}
    for op in fix_phases():
        assert op.fix is not None
        for spec in op.fix.options:
            seen.setdefault(spec.name, spec)
    return tuple(seen.values())
