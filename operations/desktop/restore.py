"""`restore-desktop-state`: put the app's own `.bak` back when its state file is damaged.

When `.codex-global-state.json` does not parse or holds NUL bytes (a write cut short: openai/codex
#37212, #42739, #43661) and its `.bak` parses and holds none, the `.bak`'s bytes, which the app
wrote itself, become the file's content again. One journaled `file_replace` with
compare-and-swap on both files (the main file must still hold the damaged bytes, the `.bak` the
bytes planned from); the `.bak` itself is never written; the file keeps its mode and mtime, as
every rewrite of this tool does. Refused while the desktop app runs (it writes the file back
from memory). Checked against reported shapes only: the app cannot run here.
"""

from __future__ import annotations

from pathlib import Path

from journal.effects import FileReplace, Witness
from journal.runner import PlannedOp
from operations.desktop.statefile import StateFile, read_state_file, state_paths
from operations.repair.plan import Plan, Why
from operations.repair.selection import RepairContext, ThreadFilter

SUBJECT = "desktop-state"


def state_files(ctx: RepairContext) -> tuple[StateFile, StateFile]:
    """The state file and its `.bak` as the audit just read them (read now for a context without one)."""
    if ctx.report.desktop is not None:
        return ctx.report.desktop.state, ctx.report.desktop.backup
    main, bak = state_paths(ctx.home.codex_home)
    return read_state_file(main), read_state_file(bak)


def plan_restore_state(ctx: RepairContext, flt: ThreadFilter) -> Plan:
    """The filters do not apply: the state file is one file for every thread."""
    plan = Plan("restore-desktop-state")
    state, backup = state_files(ctx)
    main, bak = Path(state.path), Path(backup.path)
    if not state.exists or state.healthy:
        return plan
    plan.considered = 1
    why = _refusal(state, backup)
    if why is not None or state.raw is None or backup.raw is None:
        plan.leave(str(main), why or Why("unreadable", f"{main} could not be read whole"))
        return plan
    damage = state.error or f"{state.nul_bytes} NUL byte(s)"
    effect = FileReplace(str(main), state.raw, backup.raw, (Witness(str(bak), backup.size, backup.sha256),))
    plan.ops.append(PlannedOp(f"restore {main.name} from its .bak ({damage})", (effect,), subject=SUBJECT))
    return plan


def _refusal(state: StateFile, backup: StateFile) -> Why | None:
    if state.symlink or backup.symlink:
        return Why("symlink", f"{state.path if state.symlink else backup.path} is a symlink; it is left alone")
    if not backup.exists:
        return Why("no_backup", f"there is no {backup.path} to restore it from")
    if not backup.healthy:
        return Why("backup_unusable", f"{backup.path} cannot be used either "
                   f"({backup.error or f'{backup.nul_bytes} NUL byte(s)'})")
    if state.raw is None:
        return Why("unreadable", f"{state.path} could not be read whole ({state.error})")
    return None
