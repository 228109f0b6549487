"""The desktop layers' repairs: `assign-projects` (threads.project_id), `restore-desktop-state`
(the app's own .bak), `rebuild-desktop-state` (the app's projects from state_5), `fix` and
`fix --desktop` composing them; all journaled, undone byte for byte, refused while the desktop
app runs; and folder moves keep project roots true."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from fixtures.desktop import ProjectFixture, encode
from operations import processes as process_table
from operations.desktop.statefile import STATE_FILE
from tests.codexhome import audit, run, snapshot, undo
from tests.desktophome import MAC_APP, WINDOWS_APP, DesktopHome, FakeProcess, desktop_home, project_rows
from tests.helpers import cli_json


def _state(home: DesktopHome) -> bytes:
    return (home.root / STATE_FILE).read_bytes()


def _everything(home: DesktopHome) -> tuple[Any, ...]:
    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in home.root.glob(".codex-global-state.json*")}
    return snapshot(home.root), project_rows(home.built.state_db), files


def _thread_columns(home: DesktopHome) -> list[str]:
    with sqlite3.connect(home.built.state_db) as conn:
        names = [r[1] for r in conn.execute("PRAGMA table_info(threads)")]
    conn.close()
    return names


def _no_processes(monkeypatch: pytest.MonkeyPatch, processes: Iterable[FakeProcess] = ()) -> None:
    """The process list the safety checks see (the real one may hold anything on a shared machine)."""
    listed = list(processes)
    monkeypatch.setattr(process_table, "_processes", lambda: listed)


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_processes(monkeypatch)


def test_assign_projects_sets_exactly_the_claimable_threads_and_undo_restores_rows(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, None, sessions=24,
                        extra=[ProjectFixture("sub", (str(tmp_path / "work" / "app" / "sub"),))])
    before = _everything(home)
    code, dry = run(home.root, "assign-projects")
    assert code == 0, dry
    claimable = set(home.ids_in("app", "lib")) - set(home.projects[0].threads)
    planned = {op["subject"] for op in dry["data"]["plan"]["operations"]}
    assert planned == claimable
    refused = {r["thread"]: r["reason"] for r in dry["data"]["plan"]["refused"]}
    assert set(refused) == set(home.ids_in("sub")) and all("several projects" in r for r in refused.values())
    code, applied = run(home.root, "assign-projects", "--apply")
    assert code == 0, applied
    rows = {t: p for t, p, _ in project_rows(home.built.state_db)["threads"]}
    ids = {p.name: p.id for p in home.projects}
    for t in claimable:
        assert rows[t] == (ids["app"] if t in home.ids_in("app") else ids["lib"])
    assert all(rows[t] is None for t in home.ids_in("sub", "scratch"))
    after = snapshot(home.root)
    assert after["files"] == before[0]["files"]  # no rollout touched
    columns = _thread_columns(home)
    old = {r[0]: r for r in before[0]["rows"]["state_5.sqlite:threads"]}
    for new in after["rows"]["state_5.sqlite:threads"]:  # only project_id changed, nothing else in a row
        assert {c for c, a, b in zip(columns, old[new[0]], new, strict=True) if a != b} <= {"project_id"}
    assert audit(home.root)["desktop"]["findings"].get("project_claimable") is None
    code, undone = undo(home.root, applied["data"]["run"])
    assert code == 0, undone
    assert _everything(home) == before


def test_restore_puts_the_apps_own_backup_back_and_undo_puts_the_damage_back(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, "nul_damaged", sessions=6)
    before = _everything(home)
    damaged, good = _state(home), (home.root / (STATE_FILE + ".bak")).read_bytes()
    code, dry = run(home.root, "restore-desktop-state")
    assert code == 0 and len(dry["data"]["plan"]["operations"]) == 1 and dry["data"]["apply_refused"] == []
    code, applied = run(home.root, "restore-desktop-state", "--apply")
    assert code == 0, applied
    assert _state(home) == good and (home.root / (STATE_FILE + ".bak")).read_bytes() == good
    assert (home.root / STATE_FILE).stat().st_mtime_ns == before[2][STATE_FILE][1]  # mtime kept
    findings = audit(home.root)["desktop"]["findings"]
    assert not {"state_file_unusable", "state_file_nul_bytes", "state_restorable"} & set(findings)
    code, undone = undo(home.root, applied["data"]["run"])
    assert code == 0 and _state(home) == damaged
    assert _everything(home) == before


def test_restore_refuses_when_the_backup_is_damaged_too(tmp_path: Path) -> None:
    """#37212: both files held NUL bytes."""
    home = desktop_home(tmp_path, "nul_damaged", sessions=4)
    (home.root / (STATE_FILE + ".bak")).write_bytes(_state(home))
    before = _everything(home)
    code, out = run(home.root, "restore-desktop-state", "--apply")
    assert code == 3 and "cannot be used either" in out["data"]["plan"]["refused"][0]["reason"]
    assert _everything(home) == before


def _rebuilt(home: DesktopHome) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_state(home))
    return data


def test_rebuild_brings_back_wiped_projects_from_state_5(tmp_path: Path) -> None:
    """#42739, #42867: local-projects empty, assignments gone; state_5 keeps projects and keys."""
    home = desktop_home(tmp_path, "wiped", sessions=12)
    before = _everything(home)
    code, applied = run(home.root, "rebuild-desktop-state", "--apply")
    assert code == 0, applied
    data = _rebuilt(home)
    host = f"local:{home.root}"
    app, lib = home.projects[0], home.projects[1]
    assert data["local-projects"] == {
        p.local_id: {"id": p.local_id, "name": p.name, "rootPaths": list(p.roots)} for p in (app, lib)}
    assert data["project-order"] == [app.local_id, lib.local_id]
    assert data["app-server-project-id-by-legacy-project-id-by-host"] == {host: {app.local_id: app.id,
                                                                                 lib.local_id: lib.id}}
    assert data["thread-project-assignments"] == {t: {"projectKind": "local", "projectId": app.local_id}
                                                  for t in app.threads}
    # everything else as it was, migration markers included
    wiped = json.loads(before[2][STATE_FILE][0])
    for key in set(wiped) - {"local-projects", "project-order"}:
        assert data[key] == wiped[key]
    findings = audit(home.root)["desktop"]["findings"]
    assert not {"state_projects_missing", "sidebar_project_not_shown"} & set(findings)
    code, undone = undo(home.root, applied["data"]["run"])
    assert code == 0 and _everything(home) == before


def test_new_entries_copy_the_shape_existing_entries_have(tmp_path: Path) -> None:
    """#26157, #34076: one project left local-projects; the entries that remain have createdAt/updatedAt."""
    home = desktop_home(tmp_path, "dangling_assignment", sessions=12)
    original = _state(home)
    code, applied = run(home.root, "rebuild-desktop-state", "--apply")
    assert code == 0, applied
    data = _rebuilt(home)
    app = home.projects[0]
    assert list(data["local-projects"][app.local_id]) == ["id", "name", "rootPaths", "createdAt", "updatedAt"]
    assert data["local-projects"][app.local_id]["createdAt"] == 1_795_000_000_000  # ms, as the others are
    assert data["project-order"][-1] == app.local_id
    assert all(data["thread-project-assignments"][t] == {"projectKind": "local", "projectId": app.local_id}
               for t in app.threads)
    # laid out as the app laid it out: the same bytes for everything the rebuild did not touch
    assert _state(home).decode().startswith(original.decode().split('"local-projects"')[0])
    code, undone = undo(home.root, applied["data"]["run"])
    assert code == 0 and _state(home) == original


def _edit_state(home: DesktopHome, change: Any) -> None:
    data = json.loads(_state(home))
    change(data)
    (home.root / STATE_FILE).write_bytes(encode(data))


@pytest.mark.parametrize(("name", "change", "says"), [
    ("unknown field", lambda d: d["local-projects"].__setitem__(
        "x", {"id": "x", "name": "n", "rootPaths": [], "color": "red"}), "shape this tool does not know"),
    ("pending deletion", lambda d: d["app-server-pending-project-deletions-by-host"].__setitem__(
        next(iter(d["app-server-projects-migration-by-host"])), ["x"]), "deletions are pending"),
    ("no host", lambda d: d.__setitem__("app-server-projects-migration-by-host", {"local:/elsewhere": {}}),
     "names no host"),
    ("two copies", lambda d: d.__setitem__("electron-persisted-atom-state", {"local-projects": {"y": 1}}),
     "repeats local-projects"),
])
def test_rebuild_refuses_what_it_does_not_understand(tmp_path: Path, name: str, change: Any, says: str) -> None:
    home = desktop_home(tmp_path, "wiped", sessions=6)
    _edit_state(home, change)
    before = _everything(home)
    code, out = run(home.root, "rebuild-desktop-state", "--apply")
    assert code == 3, out
    assert says in out["data"]["plan"]["refused"][0]["reason"]
    assert _everything(home) == before


def test_rebuild_keeps_a_repeated_copy_in_step(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, "wiped", sessions=6)
    _edit_state(home, lambda d: d.__setitem__("electron-persisted-atom-state", {"local-projects": {},
                                                                                 "other": True}))
    code, applied = run(home.root, "rebuild-desktop-state", "--apply")
    assert code == 0, applied
    data = _rebuilt(home)
    assert data["electron-persisted-atom-state"]["local-projects"] == data["local-projects"] != {}
    assert data["electron-persisted-atom-state"]["other"] is True


def test_fix_desktop_assigns_restores_and_rebuilds_in_one_run_undone_whole(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, "wiped", sessions=16)
    (home.root / STATE_FILE).write_bytes(_state(home)[:40] + b"\x00" * 30)  # the main file damaged too
    before = _everything(home)
    code, dry = cli_json("fix", "--desktop", "--codex-home", str(home.root))
    assert code == 0, dry
    phases = [p["phase"] for p in dry["data"]["phases"]]
    assert phases[-3:] == ["assign-projects", "restore-desktop-state", "rebuild-desktop-state"]
    code, applied = cli_json("fix", "--desktop", "--apply", "--codex-home", str(home.root))
    assert code == 0, applied
    data = _rebuilt(home)
    members = {t for t, p, _ in project_rows(home.built.state_db)["threads"] if p is not None}
    assert members == set(home.ids_in("app", "sub", "lib")) and set(data["thread-project-assignments"]) == members
    assert not {c for c in audit(home.root)["desktop"]["findings"] if c.startswith(("state_", "project_claim"))} - {
        "state_migration_incomplete"}
    code, undone = undo(home.root, applied["data"]["run"])
    assert code == 0, undone
    assert _everything(home) == before


def test_fix_without_desktop_leaves_the_apps_file_alone(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, "wiped", sessions=8)
    original = _state(home)
    code, applied = cli_json("fix", "--apply", "--codex-home", str(home.root))
    assert code == 0, applied
    assert "assign-projects" in applied["data"]["phases"][-1]["phase"] and _state(home) == original


@pytest.mark.parametrize("app", [MAC_APP, WINDOWS_APP], ids=["macos", "windows"])
def test_the_apps_file_is_never_written_while_the_desktop_app_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   app: FakeProcess) -> None:
    home = desktop_home(tmp_path, "nul_damaged", sessions=4)
    _no_processes(monkeypatch, [app])
    before = _everything(home)
    code, dry = run(home.root, "restore-desktop-state")
    assert code == 0 and f"pid {app.info['pid']}" in dry["data"]["apply_refused"][0]
    code, out = run(home.root, "restore-desktop-state", "--apply")
    assert code == 3 and out["errors"][0]["code"] == "codex_running"
    assert f"pid {app.info['pid']}" in out["errors"][0]["message"]
    code, out = cli_json("fix", "--desktop", "--apply", "--codex-home", str(home.root))
    assert code == 3 and out["errors"][0]["code"] == "codex_running"
    assert _everything(home) == before


def test_an_undo_of_the_apps_file_waits_for_the_app_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = desktop_home(tmp_path, "nul_damaged", sessions=4)
    code, applied = run(home.root, "restore-desktop-state", "--apply")
    assert code == 0, applied
    restored = _everything(home)
    other = FakeProcess(77, "ChatGPT.exe", ["C:\\Program Files\\WindowsApps\\OpenAI.Codex_1_x64\\app\\ChatGPT.exe"],
                        env={"USERPROFILE": "C:\\Users\\someone-else"}, files=[])
    _no_processes(monkeypatch, [other])  # another home's app: state_5 writes would be allowed, this one is not
    code, out = undo(home.root, applied["data"]["run"])
    assert code == 3 and "desktop app is running: pid 77" in out["errors"][0]["message"]
    assert _everything(home) == restored
    _no_processes(monkeypatch)
    code, undone = undo(home.root, applied["data"]["run"])
    assert code == 0 and _everything(home) != restored


def test_state_5_repairs_are_refused_only_when_the_app_may_use_this_home(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    home = desktop_home(tmp_path, None, sessions=6)
    _no_processes(monkeypatch, [WINDOWS_APP])  # its home is another user's ~/.codex
    code, applied = run(home.root, "assign-projects", "--apply")
    assert code == 0, applied
    code, undone = undo(home.root, applied["data"]["run"])
    assert code == 0
    _no_processes(monkeypatch, [MAC_APP])  # its environment cannot be read: taken to use this home
    code, out = run(home.root, "assign-projects", "--apply")
    assert code == 3 and out["errors"][0]["code"] == "codex_running"
    assert "whose home cannot be read" in out["errors"][0]["message"]


def test_rewrite_cwd_moves_a_project_root_with_its_threads(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, None, sessions=10)
    old, new = str(home.folders["lib"]), str(tmp_path / "work" / "library")
    code, applied = run(home.root, "rewrite-cwd", "--from-folder", old, "--to-folder", new, "--apply")
    assert code == 0, applied
    rows = project_rows(home.built.state_db)
    lib = home.projects[1]
    assert (lib.id, 0, new) in rows["project_roots"]
    assert all(cwd != old for _, _, cwd in rows["threads"])


def test_rewrite_cwd_keeps_a_root_a_left_out_thread_still_lies_under(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, None, sessions=20)
    lib_threads = home.ids_in("lib")
    assert len(lib_threads) >= 2
    old, new = str(home.folders["lib"]), str(tmp_path / "work" / "library")
    code, applied = run(home.root, "rewrite-cwd", "--from-folder", old, "--to-folder", new, "--thread",
                        lib_threads[0], "--apply")
    assert code == 0, applied
    assert (home.projects[1].id, 0, old) in project_rows(home.built.state_db)["project_roots"]
    assert any("project root" in w and "is kept" in w for w in applied["data"]["plan"]["warnings"])


def test_relocate_home_leaves_projects_and_memberships_as_they_are(tmp_path: Path) -> None:
    """relocate-home rewrites only rollout_path; cwds and roots stay, so every project holds its threads."""
    home = desktop_home(tmp_path, "healthy", sessions=8)
    old_home = "/mnt/old-machine/.codex"
    with sqlite3.connect(home.built.state_db) as conn:
        conn.execute("UPDATE threads SET rollout_path = replace(rollout_path, ?, ?)", (str(home.root), old_home))
    conn.close()
    before = project_rows(home.built.state_db)
    findings = audit(home.root)["desktop"]["findings"]
    code, applied = run(home.root, "relocate-home", "--from-home", old_home, "--apply")
    assert code == 0 and applied["data"]["counts"]["applied"] == 8
    assert project_rows(home.built.state_db) == before
    assert audit(home.root)["desktop"]["findings"] == findings


def test_recover_waits_for_the_desktop_app_before_finishing_its_files_write(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A `restore-desktop-state` killed midway leaves its write pending; `recover --apply` passes
    the same gate as the write itself (issue 21), so it waits while the app runs."""
    import shutil

    from journal.scan import scan
    from tests.faultpoints import killed_at, restore_home
    from tests.helpers import cli

    home = desktop_home(tmp_path, "nul_damaged", sessions=4)
    pristine = tmp_path / "pristine"
    shutil.copytree(home.root, pristine, copy_function=shutil.copy2, symlinks=True)
    journal = home.root / "codex-sessions" / "journal.jsonl"
    args = ("run", "restore-desktop-state", "--apply", "--codex-home", str(home.root))
    for number in range(1, 80):
        restore_home(pristine, home.root)
        assert killed_at(number, lambda: cli(*args)) in (-9, 0)
        if journal.exists() and scan(str(journal)).pending:
            break
    else:
        pytest.fail("no kill point left the write pending")
    pending = _everything(home)
    other = FakeProcess(78, "ChatGPT.exe", ["C:\\Program Files\\WindowsApps\\OpenAI.Codex_1_x64\\app\\ChatGPT.exe"],
                        env={"USERPROFILE": "C:\\Users\\someone-else"}, files=[])
    _no_processes(monkeypatch, [other])  # another home's app: only the app's own file waits for it
    code, out = cli_json("recover", "--apply", "--codex-home", str(home.root))
    assert code == 3 and out["errors"][0]["code"] == "codex_running", out
    assert "desktop app is running: pid 78" in out["errors"][0]["message"]
    assert _everything(home) == pending and scan(str(journal)).pending
    _no_processes(monkeypatch)
    code, out = cli_json("recover", "--apply", "--codex-home", str(home.root))
    assert code == 0, out
    assert not scan(str(journal)).pending
