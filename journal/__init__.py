"""An event-sourced, write-ahead journal of reversible changes to files and SQLite rows.

Nothing here knows the application that uses it: the journal records effects (file moves,
edits inside lines, row updates, inserts and deletes) with their before and after values,
executes them only after their intent is durable, and derives every operation's state by
reading the file. Its public API (`journal.api`, re-exported here) opens a journal, plans,
runs, undoes, redoes, replays, recovers, lists, verifies and shows; the application passes
its name, its spelling of commands, the folders writes may go to, and a gate for its own
checks.
"""

FORMAT_VERSION = 3  # what this release writes
# 1: whole-line `line_rewrite` effects; 2: `line_splice`, the bytes that changed in a line, with
# line and file digests; 3: `file_edit` (one per file: its digests once, the splices grouped) and
# `rows_update` (many rows of one table, shared parts once); an undo, redo or replay keeps its
# chain's first label, names itself in `action` and that first operation in `origin` (optional
# fields older readers ignore)
READABLE_VERSIONS = (1, 2, 3)

# The API last: its modules import the two constants above from this package.
from journal.api import (  # noqa: E402
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
from journal.clock import Clock, IdSource, Services, Spelling, ToolInfo  # noqa: E402
from journal.effects import (  # noqa: E402  what a plan is made of
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
from journal.errors import (  # noqa: E402  every expected failure, each with its `category`
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
from journal.logview import LogHealth  # noqa: E402
from journal.planner import CompensationPlan, Conflict  # noqa: E402
from journal.recovery import Assessment  # noqa: E402
from journal.runner import OpResult, PlannedOp, RunResult  # noqa: E402
from journal.store import JournalWriter  # noqa: E402

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
