"""Which running processes are Codex (the CLI, `codex app-server`, the npm wrapper, the desktop
app) using this home, and who another pid is: `psutil`, a well-kept cross-platform process
library, lists them with their environment and open files on every OS."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from operations.lock_probes import SOME_PROCESS
from operations.path_spelling import key as path_key

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


@dataclass(frozen=True)
class ProcessIdentity:
    """Who a pid is: `kind` is `codex_sessions` (another run of this tool, never called Codex),
    `process` (anything else), or `unknown` (gone, hidden, or a pid the OS does not tell)."""

    pid: int
    kind: str
    command: str = ""

    def describe(self) -> str:
        if self.pid == SOME_PROCESS:
            return "a process whose pid Windows does not tell"
        if self.kind == "codex_sessions":
            return f"pid {self.pid}, another codex-sessions run ({self.command})"
        return f"pid {self.pid} ({self.command})" if self.command else f"pid {self.pid}"


def identify_pid(pid: int) -> ProcessIdentity:
    """What the process `pid` is, as data: callers branch on `kind`, never on the wording."""
    if pid == SOME_PROCESS:
        return ProcessIdentity(pid, "unknown")
    try:
        import psutil

        cmdline = psutil.Process(pid).cmdline()
    except Exception:  # noqa: BLE001 - the process may be gone or hidden from us
        return ProcessIdentity(pid, "unknown")
    text = " ".join(cmdline)
    if "codex-sessions" in text or "-m operations" in text:
        return ProcessIdentity(pid, "codex_sessions", _short_command(cmdline, ""))
    return ProcessIdentity(pid, "process", _short_command(cmdline, "") if text else "")
