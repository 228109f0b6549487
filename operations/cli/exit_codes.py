"""The documented exit codes, in one place (README "Exit codes")."""

from __future__ import annotations

from journal.errors import ToolError

OK = 0
ERROR = 1
USAGE = 2
REFUSED = 3
CHECK_FAILED = 4

BY_CATEGORY = {"error": ERROR, "usage": USAGE, "refused": REFUSED, "check_failed": CHECK_FAILED}


def exit_code_for(error: ToolError) -> int:
    return BY_CATEGORY.get(error.category, ERROR)
