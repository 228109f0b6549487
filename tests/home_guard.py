"""The test suite never reads or writes the user's own Codex home.

Before anything is collected, HOME, CODEX_HOME and the other places a Codex binary or this tool
could look (XDG folders, USERPROFILE) point into a temporary folder for the whole session, so
not even code that runs before the per-test `isolated_env` fixture can reach the real home. The
real `~/.codex` is snapshotted (path, kind, size and mtime of every entry, or its absence) at the
start and compared at the end: any change fails the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

Snapshot = dict[str, tuple[str, int, int]] | None

REDIRECTED = ("HOME", "USERPROFILE", "CODEX_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME",
              "XDG_STATE_HOME")
DROPPED = ("CODEX_SQLITE_HOME", "CODEX_SESSIONS_JOURNAL")


def real_homes() -> list[Path]:
    """The user's home as the environment names it, and as the password database does (a child
    that drops HOME falls back to the latter)."""
    homes = [Path(os.path.expanduser("~"))]
    if sys.platform != "win32":
        import pwd

        with contextlib.suppress(KeyError):
            homes.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    return list(dict.fromkeys(homes))


def codex_folders() -> list[Path]:
    folders = [home / ".codex" for home in real_homes()]
    if os.environ.get("CODEX_HOME"):
        folders.append(Path(os.environ["CODEX_HOME"]))
    return list(dict.fromkeys(folders))


def snapshot(folder: Path) -> Snapshot:
    """Every entry below `folder` (not following symlinks): kind, size, mtime; None when absent."""
    try:
        if not stat.S_ISDIR(folder.lstat().st_mode):
            st = folder.lstat()
            return {".": ("other", st.st_size, st.st_mtime_ns)}
    except FileNotFoundError:
        return None
    out: dict[str, tuple[str, int, int]] = {}
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(base, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            kind = "dir" if stat.S_ISDIR(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else "file"
            out[os.path.relpath(path, folder)] = (kind, 0 if kind == "dir" else st.st_size, st.st_mtime_ns)
    return out


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    if before is None or after is None:
        return [] if before == after else ["it was created" if before is None else "it was removed"]
    changed = [f"{p}: {'added' if p not in before else 'removed' if p not in after else 'changed'}"
               for p in sorted(set(before) | set(after)) if before.get(p) != after.get(p)]
    return changed


class HomeGuard:
    """Redirects the home for the session and says, at its end, whether the real one changed."""

    def __init__(self) -> None:
        self.homes = real_homes()  # as they were before the redirection below
        self.folders = codex_folders()
        self.before = {folder: snapshot(folder) for folder in self.folders}
        self.saved = {name: os.environ.get(name) for name in (*REDIRECTED, *DROPPED)}
        self.temp = Path(tempfile.mkdtemp(prefix="codex-sessions-tests-"))
        fake = self.temp / "user-home"
        fake.mkdir()
        for name in REDIRECTED:
            os.environ[name] = str(fake / ".codex" if name == "CODEX_HOME" else fake)
        for name in DROPPED:
            os.environ.pop(name, None)

    def changes(self) -> dict[Path, list[str]]:
        found = {}
        for folder in self.folders:
            diff = differences(self.before[folder], snapshot(folder))
            if diff:
                found[folder] = diff
        return found

    def close(self) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(self.temp, ignore_errors=True)
