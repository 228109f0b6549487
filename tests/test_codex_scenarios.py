"""Does Codex show the sessions again after this tool runs, and does Codex still work on them?

Every assertion here is about what the real Codex binary reports (app-server `thread/list`,
`codex exec resume`, `codex archive`/`unarchive`), driven offline against a loopback
model API. `codex exec` makes sessions of source `exec`, so listings name that source
(`sourceKinds: ["exec"]`); the provider filter is Codex's default (modelProviders omitted).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from operations.audit import run_audit
from operations.cli import context
from operations.home import discover
from operations.visibility import thread_list
from tests.codex.harness import EXTRA, AppServer, CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.codexhome import audit, run, snapshot, undo
from tests.helpers import TickingClock, fixed_services, real_time_clock

pytestmark = pytest.mark.codex
EXEC = {"sourceKinds": ["exec"]}
NEWEST = (*EXTRA, "0.171.0", "0.169.0")


@pytest.fixture(params=NEWEST)
def newest(request: pytest.FixtureRequest) -> str:
    """Every scenario runs on the newest pinned release and on the one before it."""
    return str(request.param)


@pytest.fixture
def make_codex(tmp_path: Path, codex_binary_for: Callable[[str], Path],
               newest: str) -> Iterator[Callable[..., CodexSession]]:
    sessions: list[CodexSession] = []
    with MockResponsesAPI() as api:

        def make(version: str = newest, name: str = "home") -> CodexSession:
            home = tmp_path / name
            home.mkdir()
            session = CodexSession(codex_binary_for(version), home, api)
            session.write_config(current="mockA")
            sessions.append(session)
            return session

        yield make
        for session in sessions:
            session.close()
    for session in sessions:
        assert session.live_processes() == [], "a Codex process was left running"


def listed(codex: CodexSession, **params: Any) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in codex.thread_list(**{**EXEC, **params})}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rollout_of(codex: CodexSession, thread_id: str) -> Path:
    (path,) = list(codex.home.rglob(f"*{thread_id}.jsonl"))
    return path


def db_provider(codex: CodexSession, thread_id: str) -> str:
    conn = sqlite3.connect(codex.home / "state_5.sqlite")
    try:
        return str(conn.execute("SELECT model_provider FROM threads WHERE id = ?", (thread_id,)).fetchone()[0])
    finally:
        conn.close()


def test_1_provider_switch(make_codex: Callable[..., CodexSession], tmp_path: Path) -> None:
    codex = make_codex()
    a1 = codex.exec("first task in a", tmp_path / "proj-a")
    b1 = codex.exec("first task in b", tmp_path / "proj-b")
    codex.write_config(current="mockB")
    assert listed(codex) == {}
    report = audit(codex.home)
    for thread in report["threads"]:
        assert "provider: `mockA` ≠ current `mockB`" in thread["ide"]["reasons"]
    files = {t: rollout_of(codex, t) for t in (a1, b1)}
    original = {t: p.read_bytes() for t, p in files.items()}

    code, applied = run(codex.home, "migrate-provider", "--apply")
    assert code == 0, applied
    assert set(listed(codex)) == {a1, b1}
    assert set(listed(codex)) == {a1, b1}  # a second listing: Codex did not revert it
    assert db_provider(codex, a1) == db_provider(codex, b1) == "mockB"
    assert {t["modelProvider"] for t in listed(codex).values()} == {"mockB"}

    size = files[a1].stat().st_size
    codex.resume(a1, "continue please", tmp_path / "proj-a")
    assert rollout_of(codex, a1) == files[a1] and files[a1].stat().st_size > size  # appended to the same file
    appended = files[a1].read_bytes()[len(original[a1]) :]

    code, refused = undo(codex.home, applied["data"]["run"])
    assert code == 3 and refused["errors"][0]["code"] == "conflict"
    assert "grew by" in refused["errors"][0]["message"]  # appended to: the forceable kind of drift
    code, forced = undo(codex.home, applied["data"]["run"], "--force")
    assert code == 0, forced
    assert files[b1].read_bytes() == original[b1]  # byte-identical
    assert files[a1].read_bytes() == original[a1] + appended  # the appended turn is kept
    # Both are hidden again. For a1 this is a fact about Codex 0.169: its appended turn carries
    # thread_settings_applied(model_provider_id=mockB), yet listing filters on the first session_meta.
    assert b"\"model_provider_id\":\"mockB\"" in appended
    assert listed(codex) == {}
    hidden = {t["id"]: t["ide"]["reasons"] for t in audit(codex.home)["threads"]}
    assert all("provider: `mockA` ≠ current `mockB`" in reasons for reasons in hidden.values())


def test_2_the_seeds_db_only_method_is_reverted_by_codex(make_codex: Callable[..., CodexSession],
                                                           tmp_path: Path) -> None:
    codex = make_codex()
    a1 = codex.exec("hello", tmp_path / "proj-a")
    codex.write_config(current="mockB")
    code, applied = run(codex.home, "migrate-provider", "--db-only", "--apply")
    assert code == 0 and any("reverts" in w or "re-reads" in w for w in applied["data"]["plan"]["warnings"])
    assert db_provider(codex, a1) == "mockB"
    assert audit(codex.home)["problems"] == {"provider_mismatch": 1}  # the audit notices the disagreement
    assert listed(codex) == {}
    assert db_provider(codex, a1) == "mockA"  # Codex re-read the rollout and wrote mockA back


def test_3_archive_and_unarchive_both_ways(make_codex: Callable[..., CodexSession], tmp_path: Path) -> None:
    codex = make_codex()
    t = codex.exec("to be archived", tmp_path / "proj")
    codex.archive(t)
    assert t not in listed(codex) and t in listed(codex, archived=True)
    code, data = run(codex.home, "unarchive", "--thread", t, "--apply")
    assert code == 0, data
    assert t in listed(codex)
    codex.archive(t)  # Codex's own archive works on what we put back
    assert t in listed(codex, archived=True)
    assert rollout_of(codex, t).parent == codex.home / "archived_sessions"

    codex.unarchive(t)
    assert t in listed(codex)
    code, data = run(codex.home, "archive", "--thread", t, "--apply")
    assert code == 0, data
    assert t in listed(codex, archived=True) and t not in listed(codex)
    codex.unarchive(t)  # and Codex's own unarchive works on what we archived
    assert t in listed(codex)
    assert audit(codex.home)["integrity_problem_count"] == 0


def test_4_moved_file(make_codex: Callable[..., CodexSession], tmp_path: Path, newest: str) -> None:
    codex = make_codex()
    t = codex.exec("will be moved", tmp_path / "proj")
    path = rollout_of(codex, t)
    wrong = codex.home / "sessions" / "2020" / "01" / "01" / path.name
    wrong.parent.mkdir(parents=True)
    path.rename(wrong)
    # Codex 0.169 still lists the thread (the storage doc says it vanishes): its scan finds the file
    # in the wrong folder, but the row keeps the stale path, so resume fails. The audit says the same.
    assert listed(codex)[t]["path"] == str(wrong)
    conn = sqlite3.connect(codex.home / "state_5.sqlite")
    assert conn.execute("SELECT rollout_path FROM threads WHERE id = ?", (t,)).fetchone()[0] == str(path)
    conn.close()
    assert "no rollout found" in codex.resume(t, "are you there?", tmp_path / "proj", check=False).stderr
    assert "missing_rollout_path" in next(x for x in audit(codex.home)["threads"] if x["id"] == t)["problems"]
    by_id = listed(codex, includedThreadIds=[t])
    if newest == "0.171.0":  # "always use indexed metadata": the row's stale path hides it
        assert by_id == {}
    else:  # 0.169 ignores the parameter
        assert set(by_id) == {t}
    report = run_audit(discover(codex.home), now=real_time_clock().now())
    facts = next(x.facts for x in report.threads if x.id == t)
    assert facts is not None
    assert thread_list(facts, "mockA", source_kinds=["exec"], named_in_included_ids=True).listed is False
    code, data = run(codex.home, "repair-paths", "--apply")
    assert code == 0, data
    assert rollout_of(codex, t) == path
    assert t in listed(codex) and t in listed(codex, includedThreadIds=[t])
    codex.resume(t, "still there?", tmp_path / "proj")
    assert rollout_of(codex, t) == path


def test_5_orphan(make_codex: Callable[..., CodexSession], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    codex = make_codex()
    t = codex.exec("an orphan to be", tmp_path / "proj-o")
    conn = sqlite3.connect(codex.home / "state_5.sqlite")
    cur = conn.execute("SELECT * FROM threads WHERE id = ?", (t,))
    codex_row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    conn.execute("DELETE FROM threads WHERE id = ?", (t,))
    conn.commit()
    conn.close()
    assert audit(codex.home)["integrity"]["disk_not_in_db_sample"] == [t]
    # Written seconds ago: it may be a live session, so it is left alone.
    code, data = run(codex.home, "import-orphans", "--apply")
    assert code == 3 and "live" in data["data"]["plan"]["refused"][0]["reason"], data
    # Ten minutes later (the tool's clock moved, nothing else did) it is imported.
    later = datetime.now(UTC) + timedelta(minutes=10)
    monkeypatch.setattr(context, "make_services", lambda: fixed_services(clock=TickingClock(later)))
    code, data = run(codex.home, "import-orphans", "--apply")
    assert code == 0, data
    inserted = data["data"]["plan"]["operations"][0]["effects"][0]["row"]
    differing = {k for k in codex_row if codex_row[k] != inserted.get(k)}
    # A live Codex stamps *_ms from a per-process allocator (unique values) and updated_at and
    # recency_at from its clock; we derive them from the timestamp and the file's mtime, as its
    # backfill does. They may differ by milliseconds, or a second across a boundary. All else matches.
    clock = {"created_at_ms": 50, "updated_at_ms": 1000, "recency_at_ms": 1000, "updated_at": 1, "recency_at": 1}
    assert differing <= set(clock), differing
    for column in differing:
        assert abs(codex_row[column] - inserted[column]) <= clock[column], column
    got = listed(codex)[t]
    assert (got["modelProvider"], got["cwd"], got["preview"]) == ("mockA", str(tmp_path / "proj-o"), "an orphan to be")


def test_6_writes_are_refused_while_codex_runs(make_codex: Callable[..., CodexSession], tmp_path: Path) -> None:
    codex = make_codex()
    t = codex.exec("busy", tmp_path / "proj")
    codex.archive(t)
    codex.write_config(current="mockB")
    before = snapshot(codex.home)
    with AppServer(codex) as server:
        server.thread_list(**EXEC)
        for args in (["unarchive"], ["migrate-provider"], ["repair-paths"]):
            code, data = run(codex.home, *args, "--apply")
            if args == ["repair-paths"] and code == 0:
                assert data["data"]["plan"]["operations"] == []  # nothing to do is not a write
                continue
            assert code == 3, data
            assert data["errors"][0]["code"] == "codex_running", data
    after = snapshot(codex.home)
    assert after["files"] == before["files"]
    assert after["rows"]["state_5.sqlite:threads"] == before["rows"]["state_5.sqlite:threads"]


def test_7_old_home_from_0_128(make_codex: Callable[..., CodexSession], tmp_path: Path,
                                codex_binary_for: Callable[[str], Path], newest: str) -> None:
    old = make_codex("0.128.0")
    a1 = old.exec("legacy one", tmp_path / "proj-a")
    a2 = old.exec("legacy two", tmp_path / "proj-b")
    old.write_config(current="mockB")
    report = audit(old.home)
    assert report["schema"]["max_migration"] == 29 and report["schema"]["codex_version_guess"] == "0.126-0.128"
    assert report["formats"] == {"current": 2}
    code, data = run(old.home, "migrate-provider", "--apply")
    assert code == 0, data
    assert all([line for e in op["effects"] if e["kind"] == "file_edit" for g in e["splices"] for line, _ in g["at"]]
               == [1]
               for op in data["data"]["plan"]["operations"])  # legacy files: only session_meta
    new = CodexSession(codex_binary_for(newest), old.home, old.api, current="mockB")
    try:
        got = listed(new)
        assert set(got) == {a1, a2} and {t["modelProvider"] for t in got.values()} == {"mockB"}
        # the newer Codex migrated the database in place
        level = audit(old.home)["schema"]["max_migration"]
        assert level == {"0.169.0": 62, "0.171.0": 64}.get(newest, level) and level > 29
        new.resume(a1, f"hello from {newest}", tmp_path / "proj-a")
    finally:
        new.close()


def test_no_codex_process_is_left_running(make_codex: Callable[..., CodexSession], tmp_path: Path) -> None:
    from tests.codex.harness import processes_mentioning

    codex = make_codex()
    codex.exec("one", tmp_path / "p")
    with AppServer(codex) as server:
        server.thread_list(**EXEC)
        assert processes_mentioning(str(codex.home))  # it is running now, and we can see it
    codex.close()
    assert processes_mentioning(str(codex.home)) == []
    shutil.rmtree(codex.home)


def test_8_renamed_project_folder(make_codex: Callable[..., CodexSession], tmp_path: Path) -> None:
    codex = make_codex()
    old, new = tmp_path / "proj-old", tmp_path / "proj-new"
    t1 = codex.exec("work in the old folder", old)
    t2 = codex.exec("more work there", old / "sub")
    other = codex.exec("elsewhere", tmp_path / "proj-older")  # a name that shares a string prefix
    old.rename(new)
    assert listed(codex, cwd=str(new)) == {}
    before = snapshot(codex.home)
    code, applied = run(codex.home, "rewrite-cwd", "--from-folder", str(old), "--to-folder", str(new), "--apply")
    assert code == 0, applied
    assert set(listed(codex, cwd=str(new))) == {t1}
    assert set(listed(codex, cwd=str(new / "sub"))) == {t2}
    assert set(listed(codex, cwd=str(tmp_path / "proj-older"))) == {other}
    result = codex.resume(t1, "still here after the rename?", new)
    assert result.returncode == 0
    contexts = [json.loads(line)["payload"] for line in rollout_of(codex, t1).read_text().splitlines()
                if '"turn_context"' in line]
    assert [c["cwd"] for c in contexts] == [str(new), str(new)]  # ours rewritten, Codex's new turn agrees
    t2_file = str(rollout_of(codex, t2).relative_to(codex.home))
    code, refused = undo(codex.home, applied["data"]["run"])
    assert code == 3  # resume appended a turn to t1: a conflict
    code, undone = undo(codex.home, applied["data"]["run"], "--force")
    assert code == 0, undone
    assert snapshot(codex.home)["files"][t2_file] == before["files"][t2_file]  # byte for byte, mtime too
    conn = sqlite3.connect(codex.home / "state_5.sqlite")
    assert conn.execute("SELECT cwd FROM threads WHERE id = ?", (t2,)).fetchone()[0] == str(old / "sub")
    conn.close()


def test_9_relocated_copy_of_a_home(make_codex: Callable[..., CodexSession], tmp_path: Path) -> None:
    codex = make_codex()
    t = codex.exec("made in the original home", tmp_path / "proj")
    codex.close()
    copy_home = tmp_path / "copy"
    shutil.copytree(codex.home, copy_home)
    original_file = rollout_of(codex, t)
    original = sha(original_file)
    assert audit(copy_home)["problems"] == {"rollout_path_outside_home": 1}
    code, applied = run(copy_home, "relocate-home", "--apply")
    assert code == 0, applied
    copy = CodexSession(codex.binary, copy_home, codex.api, current="mockA")
    try:
        copy.resume(t, "resume in the copy", tmp_path / "proj")
    finally:
        copy.close()
    assert sha(original_file) == original  # the original home was not touched
    copied_file = copy_home / original_file.relative_to(codex.home)
    assert copied_file.stat().st_size > original_file.stat().st_size  # the copy got the new turn
    assert audit(copy_home)["integrity_problem_count"] == 0
