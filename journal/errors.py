"""The project's one exception hierarchy.

Every expected failure is a ToolError with a stable `code` and a `category`; the CLI maps
categories to exit codes in exactly one place (operations/cli/exit_codes.py).
"""

from __future__ import annotations

from typing import Any


class ToolError(Exception):
    """Base of every expected failure; never shown with a traceback."""

    category = "error"
    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class UsageProblem(ToolError):
    """The user asked for something that cannot be parsed or does not exist."""

    category = "usage"
    code = "usage"


class NotFound(UsageProblem):
    code = "not_found"


class Refused(ToolError):
    """A safety check said no; nothing was changed."""

    category = "refused"
    code = "refused"


class LockHeld(Refused):
    code = "lock_held"


class JournalCorrupt(Refused):
    code = "journal_corrupt"


class PendingRecovery(Refused):
    code = "pending_recovery"


class ConflictRefused(Refused):
    code = "conflict"


class OutsideAllowedRoots(Refused):
    code = "outside_home"


class CasFailed(ToolError):
    """A target no longer holds the value an effect expects; nothing was written."""

    code = "cas_failed"
