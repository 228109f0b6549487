"""What the journal engine needs from the operating system: an exclusive lock and durability.

Chosen at run time; no POSIX-only module is imported at module level, so the engine
imports on Windows, and on a POSIX system whose `fcntl` is missing.

* Lock: `portalocker` (flock on POSIX, LockFileEx/msvcrt on Windows), a well-kept library
  that locks an already open file without truncating or deleting it, so the lock file can
  name its holder.
* Durability: Linux fsyncs and `syncfs`; macOS `F_FULLFSYNC` for the journal (plain fsync
  there does not reach the platters); Windows has no directory fsync (renames are durable
  through the file system's own log) and no syncfs.
* Windows refuses to rename or delete a file another program holds open without
  FILE_SHARE_DELETE (a sharing violation); such steps are retried for a bounded time, then
  fail with an error naming the file.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from journal.errors import Refused, ToolError

IS_WINDOWS = sys.platform == "win32"
IS_DARWIN = sys.platform == "darwin"
HAS_SYNCFS = sys.platform.startswith("linux")
SHARING_VIOLATIONS = (5, 32, 33)  # ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
RETRY_SECONDS = 3.0

T = TypeVar("T")


class FileBusy(ToolError):
    """Another program keeps a file open, so it cannot be replaced or removed (Windows)."""

    code = "file_busy"


class LockUnavailable(Refused):
    """This system offers no file lock this tool can use; it will not write without one."""

    code = "lock_unavailable"


def try_lock_exclusive(fd: int) -> bool:
    """Take an exclusive, non-blocking lock on an open file; False when another holder has it."""
    try:
        import portalocker
    except ImportError as exc:  # no fcntl (POSIX) or msvcrt (Windows)
        raise LockUnavailable(f"no file locking on this system ({exc}); refusing to write") from None
    try:
        portalocker.lock(fd, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
    except (portalocker.AlreadyLocked, portalocker.LockException):
        return False
    return True


def unlock(fd: int) -> None:
    import portalocker

    portalocker.unlock(fd)


def fsync_journal(fd: int) -> None:
    """The journal's own fsync: on macOS F_FULLFSYNC, the only one that reaches stable storage."""
    if sys.platform == "darwin":
        import fcntl

        try:
            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
            return
        except OSError:
            pass  # some file systems (network shares) do not support it
    os.fsync(fd)


def fsync_dir(path: str) -> None:
    """Make a rename or a new name in `path` durable (no such call, nor need, on Windows)."""
    if sys.platform != "win32":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def syncfs(folder: str) -> bool:
    """Flush the whole file system holding `folder` (Linux); False where there is no syncfs,
    and the caller must have synced each file itself."""
    if not HAS_SYNCFS:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if not hasattr(libc, "syncfs"):
            return False
        if libc.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs failed")
        return True
    finally:
        os.close(fd)


def is_sharing_violation(exc: OSError) -> bool:
    return IS_WINDOWS and getattr(exc, "winerror", None) in SHARING_VIOLATIONS


def with_retry(action: Callable[[], T], path: str, what: str, *, seconds: float = RETRY_SECONDS,
               busy: Callable[[OSError], bool] = is_sharing_violation,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Run a rename/unlink/replace, retrying while another program holds the file open."""
    deadline = time.monotonic() + seconds
    delay = 0.05
    while True:
        try:
            return action()
        except OSError as exc:
            if not busy(exc):
                raise
            if time.monotonic() >= deadline:
                raise FileBusy(f"cannot {what} {path}: another program keeps it open ({exc}); "
                               "close it and try again", details={"path": path}) from None
            sleep(delay)
            delay = min(delay * 2, 0.5)


def current_user() -> str:
    """The user name a run records; never fails (no `os.getuid` on Windows)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - getpass raises whatever its back end raises
        return os.environ.get("USERNAME") or os.environ.get("USER") or "unknown"


def process_started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None when that cannot be told."""
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:  # noqa: BLE001 - psutil raises per platform; unknown is an answer
        return None


def process_alive(pid: int, started: float | None) -> bool:
    """Whether process `pid` runs, and is the one that started at `started` (when given): a pid
    reused by another process since is not it. When it cannot be told, alive (a live holder's
    lock is never taken)."""
    try:
        import psutil
    except ImportError:
        return True
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 0.01
    except psutil.NoSuchProcess:
        return False
    except Exception:  # noqa: BLE001 - AccessDenied and the like: it exists
        return True


def exit_with_parent(parent_pid: int) -> None:
    """The initializer of every worker process: leave SIGINT to the parent (it stops the run at an
    operation boundary; a worker's traceback would only add noise), and exit as soon as the
    parent is gone, so no worker outlives its run (one blocked on writing to a pipe nobody reads
    any more would sleep forever). POSIX re-parents an orphan, which `getppid` shows."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.1)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
