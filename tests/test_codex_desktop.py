"""Projects against the real Codex 0.171 app-server (with the `experimentalApi` capability):
projects made by `project/create`, threads given their project by `fix --desktop`; then
`thread/list` with `projectId` lists exactly the threads the audit predicted for each project,
and undo restores every row and file (the app's state file included) byte for byte. After
`rewrite-cwd` of a project's folder, `project/list` shows the new root and the project still
lists its threads. Every Codex process runs with HOME and CODEX_HOME in the test's folder."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.desktop import MadeProject, write_state
from fixtures.generator import HomeSpec, build_home
from operations.audit import run_audit
from operations.desktop.statefile import STATE_FILE
from operations.home import discover
from operations.repair.fix import FixOptions, plan_fix
from operations.repair.selection import RepairContext, ThreadFilter
from operations.visibility import thread_list
from tests.codex.harness import AppServer, CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.codexhome import run, snapshot, undo
from tests.desktophome import project_rows
from tests.helpers import cli_json, real_time_clock

pytestmark = pytest.mark.codex
VERSION = "0.171.0"
LISTS = ({"sourceKinds": ["cli", "exec"]}, {"sourceKinds": ["cli", "exec"], "archived": True})
FOLDERS = ("app", "app/sub", "lib", "scratch")


@pytest.fixture
def codex(tmp_path: Path, codex_binary_for: Callable[[str], Path]) -> Iterator[CodexSession]:
    work = tmp_path / "work"
    for folder in FOLDERS:
        (work / folder).mkdir(parents=True)
    built = build_home(tmp_path / "home", HomeSpec(
        version=VERSION, sessions=36, cwds=tuple(str(work / f) for f in FOLDERS), providers=("mockA",),
        current_provider="mockA", defined_providers=("mockA",), archived_share=0.2, exec_share=0.3, seed=21))
    with MockResponsesAPI() as api:
        session = CodexSession(codex_binary_for(VERSION), built.root, api, providers=("mockA",), current="mockA")
        session.write_config()
        env = session.env()
        assert Path(env["HOME"]).is_relative_to(tmp_path) and Path(env["CODEX_HOME"]).is_relative_to(tmp_path)
        try:
            yield session
        finally:
            session.close()
        assert session.live_processes() == []


def _create(session: CodexSession, projects: dict[str, tuple[str, ...]]) -> list[MadeProject]:
    """Projects made by Codex itself; the idempotency key is the app's own id for each (#42739)."""
    made = []
    with AppServer(session, experimental=True) as server:
        for name, roots in projects.items():
            key = f"local-{name}-0000-4000-8000-000000000000"
            answer = server.request("project/create", {"name": name, "roots": [{"path": r} for r in roots],
                                                       "idempotencyKey": key})["project"]
            assert [r["path"] for r in answer["roots"]] == list(roots)
            made.append(MadeProject(answer["id"], key, name, roots, ()))
    return made


def _everything(home: Path) -> tuple[Any, ...]:
    state = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in home.glob(f"{STATE_FILE}*")}
    return snapshot(home), project_rows(home / "state_5.sqlite"), state


def test_codex_lists_each_project_as_the_audit_predicted_and_undo_is_byte_for_byte(codex: CodexSession,
                                                                                   tmp_path: Path) -> None:
    work = tmp_path / "work"
    made = _create(codex, {"app": (str(work / "app"),), "lib": (str(work / "lib"),),
                           "sub": (str(work / "app" / "sub"),)})  # app and sub both hold work/app/sub: contested
    write_state(codex.home, "wiped", made)  # the app lost its projects (#42739); Codex never reads this file
    ids = {p.name: p.id for p in made}
    now = real_time_clock().now()
    home = discover(codex.home)
    report = run_audit(home, now=now)
    assert report.desktop is not None
    assert set(report.desktop.findings["state_projects_missing"]) == set(ids.values())
    fix = plan_fix(RepairContext(home, report, now), ThreadFilter(), FixOptions(desktop=True))
    (assign,) = [p for p in fix.phases if p.operation == "assign-projects"]
    planned = {op.subject: op.effects[0].to_json()["after"]["project_id"] for op in assign.ops}
    contested = {r.thread for r in assign.left_alone}
    assert planned and contested and set(planned.values()) == {ids["app"], ids["lib"]}

    before = _everything(codex.home)
    code, applied = cli_json("fix", "--desktop", "--apply", "--codex-home", str(codex.home))
    assert code == 0, applied
    after = _everything(codex.home)
    assert after[2][STATE_FILE][0] != before[2][STATE_FILE][0]  # the app's file was rebuilt
    code, undone = undo(codex.home, applied["data"]["run"])
    assert code == 0, undone
    assert _everything(codex.home) == before  # rows, rollouts, the state file and its .bak, mtimes
    code, redone = cli_json("redo", undone["data"]["run"], "--apply", "--codex-home", str(codex.home))
    assert code == 0, redone
    assert _everything(codex.home) == after

    facts = {t.id: t.facts for t in report.threads if t.facts is not None}
    with AppServer(codex, experimental=True) as server:
        for params in LISTS:
            archived = bool(params.get("archived"))
            shown = {t for t, f in facts.items() if thread_list(f, "mockA", source_kinds=["cli", "exec"],
                                                                archived=archived).listed}
            for name, project in ids.items():
                listed = {t["id"] for t in server.thread_list(projectId=project, **params)}
                predicted = {t for t in shown if planned.get(t) == project}
                assert listed == predicted, (name, params)
            unassigned = {t["id"] for t in server.thread_list(projectId=None, **params)}
            assert unassigned == {t for t in shown if t not in planned}, params
        assert len(server.thread_list(projectId=ids["app"], **LISTS[0])) >= 3
        assert len(server.thread_list(projectId=ids["lib"], **LISTS[0])) >= 3
        assert server.thread_list(projectId=ids["sub"], **LISTS[0]) == []  # contested threads are left alone
        assert contested & {t["id"] for t in server.thread_list(projectId=None, **LISTS[0])}


def test_after_rewrite_cwd_the_project_has_the_new_root_and_still_lists_its_threads(codex: CodexSession,
                                                                                     tmp_path: Path) -> None:
    old, new = tmp_path / "work" / "lib", tmp_path / "work" / "library"
    (lib,) = _create(codex, {"lib": (str(old),)})
    made_later = codex.exec("a session started in the project's folder", old)
    rows = project_rows(codex.home / "state_5.sqlite")["threads"]
    assert made_later in {t for t, _, _ in rows} and all(p is None for _, p, _ in rows)  # Codex assigned none
    code, assigned = run(codex.home, "assign-projects", "--apply")
    assert code == 0, assigned
    members = {op["subject"] for op in assigned["data"]["plan"]["operations"]}
    assert made_later in members
    with AppServer(codex, experimental=True) as server:
        before = {t["id"] for t in server.thread_list(projectId=lib.id, **LISTS[0])}
    assert before and before <= members
    os.rename(old, new)
    code, moved = run(codex.home, "rewrite-cwd", "--from-folder", str(old), "--to-folder", str(new), "--apply")
    assert code == 0, moved
    assert any(op["label"].startswith("rewrite project root") for op in moved["data"]["plan"]["operations"])
    with AppServer(codex, experimental=True) as server:
        projects = server.request("project/list", {})["data"]
        assert [(p["id"], [r["path"] for r in p["roots"]]) for p in projects] == [(lib.id, [str(new)])]
        listed = server.thread_list(projectId=lib.id, **LISTS[0])
    assert {t["id"] for t in listed} == before
    assert {t["cwd"] for t in listed} == {str(new)}


def test_the_sidebar_page_is_the_first_page_of_thread_list_by_recency(codex: CodexSession, tmp_path: Path) -> None:
    """The page the sidebar model shows is Codex's own first page of `thread/list` sorted by `recency_at`
    (which key the app sends is reported, not verified: users and one peer say recency). A row's
    recency moves a thread up; its `updated_at` does not (the scan takes that from the file)."""
    built = build_home(tmp_path / "busy", HomeSpec(
        version=VERSION, sessions=64, providers=("mockA",), current_provider="mockA", defined_providers=("mockA",),
        archived_share=0.0, exec_share=0.0, seed=8))
    busy = CodexSession(codex.binary, built.root, codex.api, providers=("mockA",), current="mockA")
    busy.write_config()
    by_age = sorted(built.sessions.values(), key=lambda s: s.created_ms)
    resumed, touched = by_age[0].id, by_age[1].id
    with sqlite3.connect(built.state_db) as conn:
        conn.execute("UPDATE threads SET recency_at = 1799000000, recency_at_ms = 1799000000000 WHERE id = ?",
                     (resumed,))
        conn.execute("UPDATE threads SET updated_at = 1799000001, updated_at_ms = 1799000001000 WHERE id = ?",
                     (touched,))
    conn.close()
    write_state(built.root, "healthy", [])
    report = run_audit(discover(built.root), now=real_time_clock().now())
    assert report.desktop is not None and report.desktop.sidebar is not None
    in_page = sorted((t for t in report.desktop.sidebar.threads.values() if t.shown), key=lambda t: t.rank or 0)
    try:
        with AppServer(busy, experimental=True) as server:
            page = server.request("thread/list", {"sortKey": "recency_at", "limit": 50})
    finally:
        busy.close()
    assert [t["id"] for t in page["data"]] == [t.thread_id for t in in_page]
    assert [t.rank for t in in_page] == list(range(1, 51))
    assert page["data"][0]["id"] == resumed and touched not in {t["id"] for t in page["data"]}
    assert page.get("nextCursor")
