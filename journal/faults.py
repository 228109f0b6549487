"""Named points before every write, fsync, rename and commit, where a test can inject a fault.

The file and database layer calls `point(kind, path)` just before each call that can fail
for want of space or a failing disk (`write`, `fsync`, `fsync_dir`, `syncfs`, `rename`,
`link`, `unlink`, `utime`, `sql` (a row change), `commit`, `journal_write`,
`journal_fsync`, `backup`). Nothing is installed in normal use, so a point costs one global
read. The suite installs a hook that raises ENOSPC or EIO at the Nth point (every point in
turn), or kills the process there, and checks that every such failure ends in a clear
message, a valid journal, and a home that `recover` brings to its before or after state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

FaultHook = Callable[[str, str], None]  # (kind, path); raises to inject a fault

_hook: FaultHook | None = None


def point(kind: str, path: str) -> None:
    """Called before each write, fsync, rename or commit; a test's hook may raise here."""
    if _hook is not None:
        _hook(kind, path)


def install(hook: FaultHook | None) -> FaultHook | None:
    """Set the hook (None removes it); returns the one it replaces."""
    global _hook
    previous, _hook = _hook, hook
    return previous


@contextmanager
def injected(hook: FaultHook) -> Iterator[None]:
    previous = install(hook)
    try:
        yield
    finally:
        install(previous)
