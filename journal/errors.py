"""The project's one exception hierarchy.

Every expected failure is a ToolError with a stable `code` and a `category`; the application
maps categories to its own outcomes (exit codes, say) in one place of its own.
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


class IOFailure(ToolError):
    """The disk refused a write (no space, an I/O error, a read-only file system, a permission):
    an error, never a traceback; the message names the file and what is left to do."""

    code = "io_error"


class Interrupted(ToolError):
    """SIGINT or SIGTERM stopped the command at an operation boundary; what was done is durable
    and recorded, and the message says what was not and how to go on or take it back."""

    category = "interrupted"
    code = "interrupted"


SQLITE_IO_WORDS = ("disk is full", "disk i/o error", "readonly database", "unable to open database file")


def io_problem(exc: BaseException) -> bool:
    """Whether `exc` is the disk saying no (space, I/O, read-only, permission), which stops a run,
    rather than one operation's own trouble (a file gone, a constraint)."""
    import errno
    import sqlite3

    if isinstance(exc, OSError):
        return exc.errno in {errno.ENOSPC, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM,
                             getattr(errno, "EDQUOT", errno.ENOSPC)}
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(word in text for word in SQLITE_IO_WORDS)
    return False


def io_failure(exc: BaseException, doing: str, left: str) -> IOFailure:
    """An IOFailure naming the file (when the error does), what was being done, and what is left."""
    where = getattr(exc, "filename", None)
    reason = getattr(exc, "strerror", None) or str(exc)
    named = f" {where}" if where else ""
    return IOFailure(f"{doing}{named} failed: {reason}. {left}",
                     details={"path": where, "errno": getattr(exc, "errno", None), "left": left})
