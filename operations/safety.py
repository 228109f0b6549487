"""Is Codex running on this home? Its writer locks, the database's locks and its processes tell us.

Three signals, on every OS:
* a held `thread-writer-locks/*.lock` (Codex takes them with Rust's `File::try_lock`:
  `flock` on Linux and macOS, `LockFileEx` over the whole file on Windows);
* another process with the state database open: every SQLite connection in WAL mode holds a
  shared lock on the DMS byte (128) of the `-shm` file. POSIX: F_GETLK reports it without
  taking anything (with each OS's own `struct flock` layout). Windows: a non-blocking
  exclusive lock attempt on that byte, released at once, as SQLite itself tries when a
  connection opens;
* a running Codex process (`codex`, `codex app-server`, the npm wrapper, the desktop app)
  whose `CODEX_HOME` (or, unset, its default `~/.codex`) or open files point at this home,
  named with its pid (`psutil`, a well-kept cross-platform process library).
The OS adapters take their system calls as arguments, so each is tested on any OS.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from journal.sqlio import SQLITE_ERRORS, connect_ro, require_regular
from operations.errors import CodexRunning, HomeInUse
from operations.pathrules import key as path_key
from operations.schema import RECOVERY_ADVICE, DatabaseDamaged, damaged

WRITER_LOCKS = "thread-writer-locks"
NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO without it waits for a writer
WAL_DMS_BYTE = 128
SOME_PROCESS = 0  # a database user whose pid the OS does not tell (Windows)


@dataclass(frozen=True)
class FlockLayout:
    """`struct flock` of one OS, and its fcntl constants (from its <fcntl.h>)."""

    fmt: str  # struct format, native alignment
    fields: tuple[str, ...]
    F_GETLK: int
    F_WRLCK: int
    F_UNLCK: int

    def pack(self, l_type: int, start: int, length: int, whence: int = 0, pid: int = 0) -> bytes:
        values = {"l_type": l_type, "l_whence": whence, "l_start": start, "l_len": length, "l_pid": pid}
        return struct.pack(self.fmt, *(values[f] for f in self.fields))

    def unpack(self, data: bytes) -> dict[str, int]:
        return dict(zip(self.fields, struct.unpack(self.fmt, data), strict=True))


# Linux: short l_type, l_whence; off_t l_start, l_len; pid_t l_pid (padded to 32 bytes)
LINUX_FLOCK = FlockLayout("hhqqi4x", ("l_type", "l_whence", "l_start", "l_len", "l_pid"), 5, 1, 2)
# Darwin: off_t l_start, l_len; pid_t l_pid; short l_type, l_whence (24 bytes)
DARWIN_FLOCK = FlockLayout("qqihh", ("l_start", "l_len", "l_pid", "l_type", "l_whence"), 7, 3, 2)


class LockProbe(Protocol):
    def writer_lock_held(self, path: Path) -> bool: ...

    def database_user(self, db: Path) -> int | None:
        """The pid of another process with `db` open (SOME_PROCESS: pid unknown), else None."""
        ...


class PosixProbe:
    """Linux and macOS: flock for the writer locks, F_GETLK for the database."""

    def __init__(self, layout: FlockLayout, fcntl_call: Callable[[int, int, bytes], bytes] | None = None,
                 flock_call: Callable[[int, int], Any] | None = None) -> None:
        self.layout = layout
        self._fcntl = fcntl_call
        self._flock = flock_call

    def writer_lock_held(self, path: Path) -> bool:
        try:  # never blocks: a FIFO named like a lock file opens at once (and is no lock)
            fd = os.open(path, os.O_RDONLY | NONBLOCK)
        except OSError:
            return False
        try:
            return not self._try_flock(fd)
        finally:
            os.close(fd)

    def _try_flock(self, fd: int) -> bool:
        """Take and release an exclusive flock; False when another holder has it."""
        if sys.platform == "win32":
            raise NotImplementedError("flock is POSIX")
        else:
            import fcntl

            flock = self._flock or fcntl.flock
            try:
                flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            flock(fd, fcntl.LOCK_UN)
            return True

    def database_user(self, db: Path) -> int | None:
        shm = Path(str(db) + "-shm")
        if not shm.exists():
            return None
        call = self._fcntl or _fcntl_bytes
        try:
            fd = os.open(shm, os.O_RDONLY | NONBLOCK)
        except OSError:
            return None
        try:
            answer = self.layout.unpack(call(fd, self.layout.F_GETLK,
                                             self.layout.pack(self.layout.F_WRLCK, WAL_DMS_BYTE, 1)))
        except OSError:
            return None
        finally:
            os.close(fd)
        return None if answer["l_type"] == self.layout.F_UNLCK else int(answer["l_pid"])


def _fcntl_bytes(fd: int, op: int, arg: bytes) -> bytes:
    if sys.platform == "win32":
        raise NotImplementedError("fcntl is POSIX")
    else:
        import fcntl

        return fcntl.fcntl(fd, op, arg)


class WindowsLockApi(Protocol):
    def try_lock(self, fd: int, offset: int, length: int) -> bool: ...

    def unlock(self, fd: int, offset: int, length: int) -> None: ...


class MsvcrtLockApi:
    """LockFile/UnlockFile through msvcrt: a byte range, non-blocking, on an open file."""

    def try_lock(self, fd: int, offset: int, length: int) -> bool:
        import msvcrt

        os.lseek(fd, offset, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, length)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        return True

    def unlock(self, fd: int, offset: int, length: int) -> None:
        import msvcrt

        os.lseek(fd, offset, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, length)  # type: ignore[attr-defined,unused-ignore]


class WindowsProbe:
    """Windows: byte-range lock attempts, never truncating or deleting Codex's files.

    Rust's `try_lock` locks the whole file, so any byte of a held writer lock is taken; the
    probe opens read-only, tries byte 0 and releases it at once. A file that cannot even be
    opened for reading (a sharing violation) is in use: held."""

    def __init__(self, api: WindowsLockApi | None = None) -> None:
        self.api = api or MsvcrtLockApi()

    def _busy(self, path: Path, offset: int) -> bool | None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return None
        except PermissionError:
            return True
        try:
            if self.api.try_lock(fd, offset, 1):
                self.api.unlock(fd, offset, 1)
                return False
            return True
        finally:
            os.close(fd)

    def writer_lock_held(self, path: Path) -> bool:
        return bool(self._busy(path, 0))

    def database_user(self, db: Path) -> int | None:
        return SOME_PROCESS if self._busy(Path(str(db) + "-shm"), WAL_DMS_BYTE) else None


class NoLockProbe:
    """A system without the calls we need: say so rather than guess."""

    def writer_lock_held(self, path: Path) -> bool:
        return False

    def database_user(self, db: Path) -> int | None:
        return None


def probe_for(platform: str = sys.platform) -> LockProbe:
    try:
        if platform == "win32":
            import msvcrt  # noqa: F401

            return WindowsProbe()
        import fcntl  # noqa: F401
    except ImportError:
        return NoLockProbe()
    return PosixProbe(DARWIN_FLOCK if platform == "darwin" else LINUX_FLOCK)


PROBE: LockProbe = probe_for()
CODEX_NAMES = ("codex", "codex.exe", "codex app-server")

# --- the desktop app (issue 22) ---------------------------------------------------------------
# Reported, not verified here (the app cannot run on Linux): macOS runs it from ChatGPT.app or
# Codex.app (main process `ChatGPT`/`Codex`, Electron helpers `… Helper (Renderer)` inside the
# bundle); Windows from the Store package `WindowsApps\OpenAI.Codex_…\app\ChatGPT.exe` (older
# builds `Codex.exe`, also reported as `codex-desktop.exe`), each with a bundled `codex app-server`
# child (openai/codex #33778, #41125, #13786; docs/desktop-layers.md).
DESKTOP_APP_NAMES = ("chatgpt", "chatgpt.exe", "codex-desktop", "codex-desktop.exe")
DESKTOP_HELPER_PREFIXES = ("chatgpt helper", "codex helper")
DESKTOP_APP_PATHS = ("/chatgpt.app/contents/", "/codex.app/contents/", "/windowsapps/openai.codex_",
                     "/windowsapps/openai.chatgpt")


@dataclass(frozen=True)
class CodexProcess:
    pid: int
    name: str
    why: str  # CODEX_HOME=…, default home, or an open file
    desktop_app: bool = False


def is_desktop_app(name: str, cmdline: list[str], exe: str = "") -> bool:
    """The desktop app's own processes (the Electron app and its helpers), by name or by where
    their program lies; its `codex app-server` child is recognised as Codex by `_is_codex`."""
    lowered = name.lower()
    if lowered in DESKTOP_APP_NAMES or lowered.startswith(DESKTOP_HELPER_PREFIXES):
        return True
    programs = [exe, *cmdline[:1]]
    return any(marker in p.replace("\\", "/").lower() for p in programs if p for marker in DESKTOP_APP_PATHS)


def _is_codex(name: str, cmdline: list[str], exe: str = "") -> bool:
    base = os.path.basename(cmdline[0]).lower() if cmdline else ""
    if "codex-sessions" in " ".join(cmdline).lower():
        return False
    if name.lower() in CODEX_NAMES or base in CODEX_NAMES or is_desktop_app(name, cmdline, exe):
        return True
    return any(part.replace("\\", "/").endswith(("/codex.js", "/bin/codex", "/.bin/codex", "/codex.exe"))
               for part in cmdline[:2])


def _short_command(cmdline: list[str], fallback: str) -> str:
    if not cmdline:
        return fallback
    return " ".join([os.path.basename(cmdline[0].replace("\\", "/")), *cmdline[1:3]])


def _same_folder(a: str, b: Path) -> bool:
    style = "windows" if sys.platform == "win32" else "posix"
    return path_key(os.path.abspath(a), style) == path_key(str(b), style)


def _processes() -> Iterable[Any]:
    """Every process, as psutil lists them (each with `.info` and `environ()`/`open_files()`)."""
    try:
        import psutil
    except ImportError:
        return []
    return psutil.process_iter(["pid", "name", "cmdline", "exe"])


def codex_processes(home: Path, *, own_pids: frozenset[int] = frozenset(),
                    listing: Iterable[Any] | None = None) -> list[CodexProcess]:
    """Codex processes (not ours) that use this home, by their environment or open files. A desktop
    app process whose environment and open files cannot be read is counted (it may use any home)."""
    found = []
    mine = own_pids | {os.getpid()}
    for proc in _processes() if listing is None else listing:
        info = proc.info
        name, cmdline, exe = info.get("name") or "", info.get("cmdline") or [], info.get("exe") or ""
        if info["pid"] in mine or not _is_codex(name, cmdline, exe):
            continue
        desktop = is_desktop_app(name, cmdline, exe)
        why = _uses_home(proc, home, assume_unknown=desktop)
        if why:
            found.append(CodexProcess(info["pid"], _short_command(cmdline, name or "codex"), why, desktop))
    return found


def desktop_app_processes(*, own_pids: frozenset[int] = frozenset(),
                          listing: Iterable[Any] | None = None) -> list[CodexProcess]:
    """Every running desktop app process, whatever home it uses: the app keeps its state file in
    memory and writes it back whole, so its file may be changed only while no copy of it runs."""
    mine = own_pids | {os.getpid()}
    found = []
    for proc in _processes() if listing is None else listing:
        info = proc.info
        name, cmdline, exe = info.get("name") or "", info.get("cmdline") or [], info.get("exe") or ""
        if info["pid"] not in mine and is_desktop_app(name, cmdline, exe):
            found.append(CodexProcess(info["pid"], _short_command(cmdline, name), "the desktop app", True))
    return found


def _uses_home(proc: Any, home: Path, *, assume_unknown: bool = False) -> str | None:
    import psutil

    try:
        env = proc.environ()
    except (psutil.Error, OSError):
        env = {}
    if env.get("CODEX_HOME"):
        if _same_folder(env["CODEX_HOME"], home):
            return f"CODEX_HOME={env['CODEX_HOME']}"
    elif env:
        user_home = env.get("HOME") or env.get("USERPROFILE")
        if user_home and _same_folder(os.path.join(user_home, ".codex"), home):
            return "default home ~/.codex"
    try:
        files = proc.open_files()
        readable = True
    except (psutil.Error, OSError):
        files, readable = [], False
    inside = path_key(str(home), "windows" if sys.platform == "win32" else "posix")
    for f in files:
        if path_key(f.path, "windows" if sys.platform == "win32" else "posix").startswith(inside):
            return f"has {f.path} open"
    if assume_unknown and not env and not readable:
        return "the desktop app, whose home cannot be read (taken to be this one)"
    return None


def describe_pid(pid: int) -> str:
    """'pid N (what it is)': another codex-sessions run is named as such, never as Codex."""
    if pid == SOME_PROCESS:
        return "a process whose pid Windows does not tell"
    try:
        import psutil

        cmdline = psutil.Process(pid).cmdline()
    except Exception:  # noqa: BLE001 - the process may be gone or hidden from us
        return f"pid {pid}"
    text = " ".join(cmdline)
    if "codex-sessions" in text or "-m operations" in text:
        return f"pid {pid}, another codex-sessions run ({_short_command(cmdline, '')})"
    return f"pid {pid} ({_short_command(cmdline, '')})" if text else f"pid {pid}"


@dataclass(frozen=True)
class RunningCheck:
    held_writer_locks: tuple[str, ...]
    locked_databases: tuple[str, ...]
    processes: tuple[CodexProcess, ...] = ()
    other_runs: tuple[str, ...] = ()  # databases held open by another codex-sessions run, not by Codex

    @property
    def running(self) -> bool:
        return bool(self.held_writer_locks or self.locked_databases or self.processes)

    def describe(self) -> str:
        parts = []
        if self.held_writer_locks:
            parts.append(f"live session writer lock(s) held: {', '.join(self.held_writer_locks[:5])}")
        if self.locked_databases:
            parts.append(f"database(s) in use by another process: {', '.join(self.locked_databases)}")
        if self.processes:
            parts.append("Codex process(es) using this home: " + ", ".join(
                f"pid {p.pid} ({p.name}; {p.why})" for p in self.processes[:5]))
        return "; ".join(parts) or "no sign of a running Codex"


def held_writer_locks(codex_home: Path, probe: LockProbe | None = None) -> list[str]:
    """Thread ids whose writer lock some process holds right now."""
    folder = codex_home / WRITER_LOCKS
    if not folder.is_dir():
        return []
    probe = probe or PROBE
    held = []
    for entry in sorted(folder.iterdir()):
        if not entry.name.endswith(".lock") or entry.name.startswith("."):
            continue
        if probe.writer_lock_held(entry):
            held.append(entry.name[: -len(".lock")])
    return held


def database_is_locked(db: Path, timeout_s: float = 0.5) -> bool:
    """True when BEGIN IMMEDIATE cannot get the write lock (another writer holds it)."""
    if not db.exists():
        return False
    try:
        require_regular(str(db))
        conn = sqlite3.connect(db, timeout=timeout_s, isolation_level=None)
    except SQLITE_ERRORS:
        return False  # not a database SQLite can open: the damage check says so
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except SQLITE_ERRORS:
        return False
    finally:
        conn.close()


def check_running(codex_home: Path, databases: list[Path], *, try_write_lock: bool = True,
                  probe: LockProbe | None = None) -> RunningCheck:
    """Writer locks, databases open in another process, Codex processes, and (when allowed) a
    write-lock test."""
    probe = probe or PROBE
    locks = tuple(held_writer_locks(codex_home, probe))
    locked: list[str] = []
    others: list[str] = []
    for db in databases:
        pid = probe.database_user(db)
        if pid is not None and pid != os.getpid():
            who = describe_pid(pid)
            (others if "another codex-sessions run" in who else locked).append(f"{db} (open in {who})")
        elif try_write_lock and database_is_locked(db):
            locked.append(f"{db} (locked by another process)")
    return RunningCheck(locks, tuple(locked), tuple(codex_processes(codex_home)), tuple(others))


def refuse_if_running(codex_home: Path, databases: list[Path]) -> RunningCheck:
    check = check_running(codex_home, databases)
    if check.other_runs and not check.running:
        raise HomeInUse(f"another codex-sessions run is using this home: {'; '.join(check.other_runs)}. "
                      "Wait for it to finish, then try again.", details={"other_runs": list(check.other_runs)})
    if check.running:
        raise CodexRunning(f"Codex appears to be running: {check.describe()}. Stop Codex and try again.",
                      details={"writer_locks": list(check.held_writer_locks),
                               "locked_databases": list(check.locked_databases),
                               "processes": [p.__dict__ for p in check.processes]})
    return check


def refuse_if_desktop_app_running(listing: Iterable[Any] | None = None) -> None:
    """Before writing the desktop app's own state file: no copy of the app may run, whatever its
    home (it keeps the file in memory and writes it back whole, so a change made now is lost)."""
    found = desktop_app_processes(listing=listing)
    if found:
        named = ", ".join(f"pid {p.pid} ({p.name})" for p in found[:5])
        raise CodexRunning(f"the Codex desktop app is running: {named}. Quit it (and its background processes) "
                           "first: it keeps .codex-global-state.json in memory and writes it back whole, so a change "
                           "made now would be lost", details={"processes": [p.__dict__ for p in found]})


def refuse_if_damaged(databases: list[Path]) -> None:
    """PRAGMA quick_check on each database (read-only); never write to a damaged one."""
    for db in databases:
        if not db.exists():
            continue
        try:
            conn = connect_ro(str(db))
            try:
                rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            finally:
                conn.close()
        except SQLITE_ERRORS as exc:  # cannot be read at all: the same error (exit 1) on every command
            raise damaged(db, exc) from None
        if rows != ["ok"]:  # damaged: the same error (exit 1) whichever command meets it
            raise DatabaseDamaged(f"{db} is damaged (quick_check: {'; '.join(map(str, rows))}); nothing was "
                                  f"changed. {RECOVERY_ADVICE}",
                                  details={"database": str(db), "quick_check": rows, "advice": RECOVERY_ADVICE})


def refuse_unless_safe(codex_home: Path, databases: list[Path]) -> None:
    """The checks before any write: Codex is not running, and no database is damaged."""
    refuse_if_running(codex_home, databases)
    refuse_if_damaged(databases)
