"""Generated homes with the desktop app's layers (fixtures/desktop.py), and fake process records."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fixtures.desktop import MadeProject, ProjectFixture, add_projects, write_state
from fixtures.generator import BuiltHome, HomeSpec, build_home


@dataclass
class DesktopHome:
    built: BuiltHome
    projects: list[MadeProject]
    folders: dict[str, Path]  # app, sub, lib, scratch

    @property
    def root(self) -> Path:
        return self.built.root

    def ids_in(self, *names: str) -> list[str]:
        wanted = {str(self.folders[n]) for n in names}
        return sorted(s.id for s in self.built.sessions.values() if s.cwd in wanted)

    def oldest(self, n: int) -> list[str]:
        return [s.id for s in sorted(self.built.sessions.values(), key=lambda s: s.created_ms)[:n]]


def desktop_home(tmp_path: Path, shape: str | None = "healthy", *, sessions: int = 30, version: str = "0.171.0",
                 old_threads: tuple[str, ...] = (), extra: list[ProjectFixture] | None = None,
                 **state: Any) -> DesktopHome:
    """Threads in work/app, work/app/sub, work/lib and work/scratch (folders that exist); projects
    `app` (root work/app, two of its threads assigned) and `lib` (root work/lib); with
    `old_threads`, those threads' rows move to work/old, a project `old` of their own; the state
    file in `shape` (None: no state file)."""
    work = tmp_path / "work"
    folders = {"app": work / "app", "sub": work / "app" / "sub", "lib": work / "lib", "scratch": work / "scratch",
               "old": work / "old"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    built = build_home(tmp_path / "home", HomeSpec(
        version=version, sessions=sessions, cwds=tuple(str(f) for n, f in folders.items() if n != "old"),
        providers=("azure",),
        archived_share=0.0, exec_share=0.0, seed=5))
    home = DesktopHome(built, [], folders)
    app_threads = tuple(home.ids_in("app")[:2])
    old = []
    if old_threads:
        with sqlite3.connect(built.state_db) as conn:  # the rows say these threads live in work/old
            conn.executemany("UPDATE threads SET cwd = ? WHERE id = ?", [(str(folders["old"]), t) for t in old_threads])
        conn.close()
        for t in old_threads:
            built.sessions[t].cwd = str(folders["old"])
        old = [ProjectFixture("old", (str(folders["old"]),), old_threads)]
    home.projects = add_projects(built.state_db, [
        ProjectFixture("app", (str(folders["app"]),), app_threads),
        ProjectFixture("lib", (str(folders["lib"]),)), *old, *(extra or [])])
    if shape is not None:
        write_state(built.root, shape, home.projects, **state)
    return home


def project_rows(db: Path) -> dict[str, list[Any]]:
    """Every row of the project tables and every thread's project, for byte-for-byte checks."""
    conn = sqlite3.connect(db)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)  # noqa: S608 - fixed names
                for t in ("projects", "project_roots", "project_idempotency_keys")} | {
            "threads": sorted(conn.execute("SELECT id, project_id, cwd FROM threads").fetchall())}
    finally:
        conn.close()


class FakeProcess:
    """A process record as psutil lists it: `.info`, and `environ()`/`open_files()` that may be denied."""

    def __init__(self, pid: int, name: str, cmdline: list[str], exe: str = "", env: dict[str, str] | None = None,
                 files: list[str] | None = None) -> None:
        self.info = {"pid": pid, "name": name, "cmdline": cmdline, "exe": exe}
        self._env, self._files = env, files

    def environ(self) -> dict[str, str]:
        import psutil

        if self._env is None:
            raise psutil.AccessDenied(self.info["pid"])
        return self._env

    def open_files(self) -> list[Any]:
        import psutil

        if self._files is None:
            raise psutil.AccessDenied(self.info["pid"])
        return [SimpleNamespace(path=p) for p in self._files]


MAC_APP = FakeProcess(4242, "ChatGPT", ["/Applications/ChatGPT.app/Contents/MacOS/ChatGPT"],
                      "/Applications/ChatGPT.app/Contents/MacOS/ChatGPT")
WINDOWS_APP = FakeProcess(
    5151, "ChatGPT.exe", ["C:\\Program Files\\WindowsApps\\OpenAI.Codex_26.915.4065.0_x64__2p2nqsd0c76g0\\app\\"
                          "ChatGPT.exe"], env={"USERPROFILE": "C:\\Users\\someone-else"}, files=[])
