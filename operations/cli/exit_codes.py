"""The documented exit codes, in one place (docs/exit-codes.md)."""

from __future__ import annotations

from journal.errors import ToolError

OK = 0
ERROR = 1
USAGE = 2
REFUSED = 3
CHECK_FAILED = 4  # `audit --check` found integrity problems (returned by the command, not an error)
INTERRUPTED = 130  # SIGINT or SIGTERM: stopped at an operation boundary, or before any change (128 + SIGINT)

BY_CATEGORY = {"error": ERROR, "usage": USAGE, "refused": REFUSED, "interrupted": INTERRUPTED}


def exit_code_for(error: ToolError) -> int:
    return BY_CATEGORY.get(error.category, ERROR)
