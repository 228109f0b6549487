"""Make a command meet a fault at its Nth write, fsync, rename or commit (`journal.faults`), or
die there (SIGKILL in a forked child), or be interrupted there (SIGINT to itself).

The points are the ones the file and database layer names before each such call; a command is
first run once with a counting hook to learn how many it has, then once per point.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from journal import faults

SQL_KINDS = ("sql", "commit", "backup")


@contextmanager
def counting(into: list[tuple[str, str]]) -> Iterator[None]:
    """Record every point reached, changing nothing."""
    with faults.injected(lambda kind, path: into.append((kind, path))):
        yield


def disk_error(kind: str, path: str, code: int) -> BaseException:
    """What the OS or SQLite raises there when the disk is full (ENOSPC) or failing (EIO)."""
    if kind in SQL_KINDS:
        return sqlite3.OperationalError("database or disk is full" if code == errno.ENOSPC else "disk I/O error")
    return OSError(code, os.strerror(code), path)


@contextmanager
def failing_at(number: int, code: int, seen: list[tuple[str, str]] | None = None) -> Iterator[None]:
    """The `number`th point raises ENOSPC or EIO (once); every other point passes."""
    count = 0

    def hook(kind: str, path: str) -> None:
        nonlocal count
        count += 1
        if count == number:
            if seen is not None:
                seen.append((kind, path))
            raise disk_error(kind, path, code)

    with faults.injected(hook):
        yield


@contextmanager
def interrupted_at(number: int) -> Iterator[None]:
    """At the `number`th point the process sends itself SIGINT (the handler runs right after)."""
    count = 0

    def hook(_kind: str, _path: str) -> None:
        nonlocal count
        count += 1
        if count == number:
            os.kill(os.getpid(), signal.SIGINT)

    with faults.injected(hook):
        yield


def killed_at(number: int, action: Callable[[], Any]) -> int:
    """Run `action` in a forked child that SIGKILLs itself at its `number`th point; returns the
    child's exit status (-9 when it was killed there, else its exit code)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            count = 0

            def hook(_kind: str, _path: str) -> None:
                nonlocal count
                count += 1
                if count == number:
                    os.kill(os.getpid(), signal.SIGKILL)

            faults.install(hook)
            action()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - report as a plain failure code
            code = 99
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def restore_home(pristine: Path, home: Path) -> Path:
    """Put back, at the same path (rows hold absolute paths), a byte-for-byte copy of a home
    with its mtimes: a fresh one for each fault."""
    if home.exists():
        shutil.rmtree(home)
    shutil.copytree(pristine, home, copy_function=shutil.copy2, symlinks=True)
    return home
