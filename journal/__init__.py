"""An event-sourced, write-ahead journal of reversible changes to files and SQLite rows.

Nothing here knows the application that uses it: the journal records effects (file moves,
edits inside lines, row updates, inserts and deletes) with their before and after values,
executes them only after their intent is durable, and derives every operation's state by
reading the file. Its public API (`journal.api`, re-exported here) opens a journal, plans,
runs, undoes, redoes, replays, recovers, lists, verifies and shows; the application passes
its name, its spelling of commands, the folders writes may go to, and a gate for its own
checks.
"""

import importlib
from typing import TYPE_CHECKING, Any

FORMAT_VERSION = 3  # what this release writes
# 1: whole-line `line_rewrite` effects; 2: `line_splice`, the bytes that changed in a line, with
# line and file digests; 3: `file_edit` (one per file: its digests once, the splices grouped) and
# `rows_update` (many rows of one table, shared parts once); an undo, redo or replay keeps its
# chain's first label, names itself in `action` and that first operation in `origin` (optional
# fields older readers ignore)
READABLE_VERSIONS = (1, 2, 3)

# The API is loaded on first use (PEP 562), so that `import journal.errors` does not import the
# whole engine (about 0.2 s a command would pay at start); type checkers read the imports below.
if TYPE_CHECKING:
    from journal.api import (
        Action,
        Compensation,
        Gate,
        Log,
        Recovery,
        Roots,
        Shown,
        Verification,
        compensate,
        log,
        no_gate,
        open_reader,
        open_writer,
        plan,
        plan_file_move,
        preview,
        recover,
        redo,
        refusal,
        replay,
        require_journal,
        run,
        run_phases,
        show,
        undo,
        verify,
    )
    from journal.clock import Clock, IdSource, Services, Spelling, ToolInfo
    from journal.effects import (  # what a plan is made of
        Effect,
        FileEdit,
        FileMove,
        FileReplace,
        RowChange,
        RowDelete,
        RowInsert,
        RowsUpdate,
        RowUpdate,
        SqlEffect,
        ZstdEdit,
        plan_file_edit,
        plan_zstd_edit,
    )
    from journal.errors import (  # every expected failure, each with its `category`
        CasFailed,
        ConflictRefused,
        Interrupted,
        IOFailure,
        JournalCorrupt,
        LockHeld,
        NotFound,
        OutsideAllowedRoots,
        PendingRecovery,
        Refused,
        ToolError,
        UsageProblem,
    )
    from journal.logview import LogHealth
    from journal.planner import CompensationPlan, Conflict
    from journal.recovery import Assessment
    from journal.runner import OpResult, PlannedOp, RunResult
    from journal.store import JournalWriter

_EXPORTS = {
    "Action": "journal.api",
    "Compensation": "journal.api",
    "Gate": "journal.api",
    "Log": "journal.api",
    "Recovery": "journal.api",
    "Roots": "journal.api",
    "Shown": "journal.api",
    "Verification": "journal.api",
    "compensate": "journal.api",
    "log": "journal.api",
    "no_gate": "journal.api",
    "open_reader": "journal.api",
    "open_writer": "journal.api",
    "plan": "journal.api",
    "plan_file_move": "journal.api",
    "preview": "journal.api",
    "recover": "journal.api",
    "redo": "journal.api",
    "refusal": "journal.api",
    "replay": "journal.api",
    "require_journal": "journal.api",
    "run": "journal.api",
    "run_phases": "journal.api",
    "show": "journal.api",
    "undo": "journal.api",
    "verify": "journal.api",
    "Clock": "journal.clock",
    "IdSource": "journal.clock",
    "Services": "journal.clock",
    "Spelling": "journal.clock",
    "ToolInfo": "journal.clock",
    "Effect": "journal.effects",
    "FileEdit": "journal.effects",
    "FileMove": "journal.effects",
    "FileReplace": "journal.effects",
    "RowChange": "journal.effects",
    "RowDelete": "journal.effects",
    "RowInsert": "journal.effects",
    "RowsUpdate": "journal.effects",
    "RowUpdate": "journal.effects",
    "SqlEffect": "journal.effects",
    "ZstdEdit": "journal.effects",
    "plan_file_edit": "journal.effects",
    "plan_zstd_edit": "journal.effects",
    "CasFailed": "journal.errors",
    "ConflictRefused": "journal.errors",
    "Interrupted": "journal.errors",
    "IOFailure": "journal.errors",
    "JournalCorrupt": "journal.errors",
    "LockHeld": "journal.errors",
    "NotFound": "journal.errors",
    "OutsideAllowedRoots": "journal.errors",
    "PendingRecovery": "journal.errors",
    "Refused": "journal.errors",
    "ToolError": "journal.errors",
    "UsageProblem": "journal.errors",
    "LogHealth": "journal.logview",
    "CompensationPlan": "journal.planner",
    "Conflict": "journal.planner",
    "Assessment": "journal.recovery",
    "OpResult": "journal.runner",
    "PlannedOp": "journal.runner",
    "RunResult": "journal.runner",
    "JournalWriter": "journal.store",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'journal' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "FORMAT_VERSION", "READABLE_VERSIONS", "Action", "Assessment", "CasFailed", "Clock", "Compensation",
    "CompensationPlan", "Conflict", "ConflictRefused", "Effect", "FileEdit", "FileMove", "FileReplace", "Gate",
    "IOFailure", "IdSource", "Interrupted", "JournalCorrupt", "JournalWriter", "LockHeld", "Log", "LogHealth",
    "NotFound", "OpResult", "OutsideAllowedRoots", "PendingRecovery", "PlannedOp", "Recovery", "Refused", "Roots",
    "RowChange", "RowDelete", "RowInsert", "RowUpdate", "RowsUpdate", "RunResult", "Services", "Shown", "Spelling",
    "SqlEffect", "ToolError", "ToolInfo", "UsageProblem", "Verification", "ZstdEdit", "compensate", "log", "no_gate",
    "open_reader", "open_writer", "plan", "plan_file_edit", "plan_file_move", "plan_zstd_edit", "preview", "recover",
    "redo", "refusal", "replay", "require_journal", "run", "run_phases", "show", "undo", "verify",
]
