"""Homes restored from backups or handed over: FIFOs named like rollouts, symlinked folders and
files, rows that cannot be read faithfully. Reads never block, what lies behind a symlink is
never moved, rewritten or forgotten, and every finding names its threads."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import BuiltHome, HomeSpec, build_home
from tests.codexhome import audit, snapshot
from tests.helpers import cli, cli_json

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and symlinks as POSIX makes them")

GUARD_S = 120  # generous: a regression must fail here instead of hanging the suite; no speed is asserted


def _home(tmp_path: Path, **kw: Any) -> BuiltHome:
    spec = HomeSpec(version="0.171.0", sessions=kw.pop("sessions", 8), archived_share=kw.pop("archived_share", 0.0),
                    exec_share=0.0, providers=kw.pop("providers", ("openai", "azure")), seed=11, **kw)
    return build_home(tmp_path / "home", spec)


def guarded(call: Callable[[], Any], fifos: list[Path]) -> Any:
    """`call()` in a thread; if it has not returned within GUARD_S, every FIFO is opened for
    writing (which releases a reader blocked on it) and the test fails."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = call()
        except BaseException as exc:  # reported below, in the test's thread
            result["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(GUARD_S)
    if worker.is_alive():
        for fifo in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(10)
        pytest.fail(f"still blocked after {GUARD_S} s: a FIFO was opened for reading")
    if "error" in result:
        raise result["error"]
    return result["value"]


def tree(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry under `root`: size, mtime and what it is (a file's bytes are in its size and
    mtime here; the tests that need bytes compare them)."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, "link" if path.is_symlink() else
                                            "dir" if path.is_dir() else "file" if path.is_file() else "other")
    return out


def contents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def _thread(data: dict[str, Any], thread_id: str) -> dict[str, Any]:
    return next(t for t in data["threads"] if t["id"] == thread_id)


# ------------------------------------------------------------------------- FIFOs


def test_a_fifo_named_like_a_rollout_is_reported_never_read_and_nothing_hangs(tmp_path: Path) -> None:
    built = _home(tmp_path)
    ids = sorted(built.sessions)
    at_row = built.sessions[ids[0]].path  # a row whose rollout_path is now a FIFO
    at_row.unlink()
    os.mkfifo(at_row)
    orphan_id = "01a00000-0000-7000-8000-00000000f1f0"  # a FIFO with no row, in a dated folder
    orphan = built.sessions[ids[1]].path.with_name(f"rollout-2026-06-02T10-00-00-{orphan_id}.jsonl")
    os.mkfifo(orphan)
    (built.root / "thread-writer-locks").mkdir()
    lock = built.root / "thread-writer-locks" / f"{ids[2]}.lock"  # a FIFO where Codex keeps its writer locks
    os.mkfifo(lock)
    fifos = [at_row, orphan, lock]
    before = snapshot(built.root)

    data = guarded(lambda: audit(built.root), fifos)
    assert "not_regular_file" in _thread(data, ids[0])["problems"]
    assert "db_not_on_disk" not in _thread(data, ids[0])["problems"]  # something is there: not "nowhere"
    assert _thread(data, orphan_id)["problems"] == ["not_regular_file"]
    assert data["problems"]["not_regular_file"] == 2
    assert data["problem_samples"]["not_regular_file"] == sorted([ids[0], orphan_id])
    assert {(e["path"], e["kind"]) for e in data["not_read"]} == {(str(at_row), "fifo"), (str(orphan), "fifo")}
    assert not _thread(data, orphan_id)["ide"]["listed"]
    text = guarded(lambda: cli("audit", "--codex-home", str(built.root)), fifos)
    line = next(x for x in text.stdout.splitlines() if x.strip().startswith("not_regular_file:"))
    assert ids[0] in line and orphan_id in line  # the text names the threads, as the integrity lines do

    for args in (["fix", "--forget-missing", "--unarchive"], ["run", "import-orphans"], ["run", "repair-paths"],
                 ["run", "migrate-provider", "--to-provider", "azure"], ["run", "forget-missing"]):
        code, plan = guarded(lambda args=args: cli_json(*args, "--codex-home", str(built.root), "--apply"), fifos)
        assert code in (0, 3), (args, plan)
        for op in plan["data"].get("plan", {}).get("operations", []) + [
                op for phase in plan["data"].get("phases", []) for op in phase["plan"]["operations"]]:
            assert op["subject"] not in (ids[0], orphan_id), (args, op)
    assert all(p.exists() and not p.is_file() for p in fifos)  # still FIFOs, never replaced
    after = snapshot(built.root)
    assert after["files"].keys() == before["files"].keys()


def test_a_fifo_as_the_state_database_or_config_is_an_error_not_a_hang(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=3)
    config = built.root / "config.toml"
    config.unlink()
    os.mkfifo(config)
    data = guarded(lambda: audit(built.root), [config])
    assert any("config.toml" in w and "not a regular file" in w for w in data["warnings"])
    db = built.root / "state_5.sqlite"
    db.unlink()
    for sidecar in ("-wal", "-shm"):
        Path(str(db) + sidecar).unlink(missing_ok=True)
    os.mkfifo(db)
    for args in (["audit"], ["fix"], ["run", "migrate-provider", "--to-provider", "azure", "--apply"]):
        code, refused = guarded(lambda args=args: cli_json(*args, "--codex-home", str(built.root)), [db, config])
        assert code == 1 and refused["errors"][0]["code"] == "database_damaged", (args, refused)
        assert "db-backups" in refused["errors"][0]["advice"]


# ------------------------------------------------------------------------- symlinks


@pytest.fixture
def linked(tmp_path: Path) -> tuple[BuiltHome, Path, list[str], str]:
    """A home whose busiest dated folder is a symlink to a folder outside it, and one of whose
    rollouts is a symlink to a file outside it."""
    built = _home(tmp_path, sessions=12, archived_share=0.25)
    by_folder: dict[Path, list[str]] = {}
    for s in built.sessions.values():
        if not s.archived:
            by_folder.setdefault(s.path.parent, []).append(s.id)
    folder, moved = max(by_folder.items(), key=lambda kv: (len(kv[1]), str(kv[0])))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.move(str(folder), outside / "day")
    folder.symlink_to(outside / "day", target_is_directory=True)
    single = next(s for s in sorted(built.sessions.values(), key=lambda s: s.id)
                  if s.id not in moved and not s.archived)
    shutil.move(str(single.path), outside / single.path.name)
    single.path.symlink_to(outside / single.path.name)
    return built, outside, sorted(moved), single.id


def test_a_symlinked_folder_and_file_are_reported_as_such_never_as_missing(
        linked: tuple[BuiltHome, Path, list[str], str]) -> None:
    built, _, moved, single = linked
    data = audit(built.root)
    for thread_id in [*moved, single]:
        problems = _thread(data, thread_id)["problems"]
        assert "symlinked_rollout" in problems, (thread_id, problems)
        assert not {"missing_rollout_path", "db_not_on_disk", "disk_not_in_db"} & set(problems), problems
        assert _thread(data, thread_id)["symlinks"]
    assert data["problem_samples"]["symlinked_rollout"] == sorted([*moved, single])
    text = cli("audit", "--codex-home", str(built.root)).stdout
    line = next(x for x in text.splitlines() if x.strip().startswith("symlinked_rollout:"))
    assert moved[0] in line


def test_no_repair_touches_what_lies_behind_a_symlink(linked: tuple[BuiltHome, Path, list[str], str]) -> None:
    built, outside, moved, single = linked
    before_outside, before_bytes = tree(outside), contents(outside)
    code, plan = cli_json("fix", "--forget-missing", "--codex-home", str(built.root))
    assert code == 0, plan
    planned = {op["subject"] for phase in plan["data"]["phases"] for op in phase["plan"]["operations"]}
    assert not planned & {*moved, single}, planned
    runs = [["fix", "--forget-missing", "--unarchive", "--to-provider", "azure"], ["run", "archive"],
            ["run", "migrate-provider", "--to-provider", "openai"], ["run", "repair-paths"], ["run", "forget-missing"],
            ["run", "rewrite-cwd", "--from-folder", "/home/u", "--to-folder", "/srv/u"]]
    applied = 0
    for args in runs:
        code, ran = cli_json(*args, "--codex-home", str(built.root), "--apply")
        assert code in (0, 3), (args, ran)
        subjects = {op["subject"] for op in ran["data"].get("operations", [])} | {
            op["subject"] for op in ran["data"].get("plan", {}).get("operations", [])}
        assert not subjects & {*moved, single}, (args, subjects)
        applied += len(ran["data"].get("operations", []))
    assert applied > 0  # the repairs did run, on every thread not behind a symlink
    assert tree(outside) == before_outside and contents(outside) == before_bytes
    assert all(built.sessions[i].path.parent.is_symlink() for i in moved) and built.sessions[single].path.is_symlink()


def test_a_symlink_that_leads_nowhere_is_not_a_reason_to_forget(linked: tuple[BuiltHome, Path, list[str], str],
                                                                  tmp_path: Path) -> None:
    """The folder behind the link is gone (an unmounted disk?): its rows are reported, not forgotten."""
    built, outside, moved, _ = linked
    shutil.move(str(outside / "day"), tmp_path / "unmounted")
    data = audit(built.root)
    for thread_id in moved:
        problems = _thread(data, thread_id)["problems"]
        assert "symlinked_rollout" in problems and "db_not_on_disk" not in problems, problems
    code, plan = cli_json("run", "forget-missing", "--codex-home", str(built.root), "--apply")
    assert code == 0 and not {op["subject"] for op in plan["data"]["plan"]["operations"]} & set(moved), plan
    conn = sqlite3.connect(built.state_db)
    try:
        assert conn.execute(f"SELECT COUNT(*) FROM threads WHERE id IN ({','.join('?' * len(moved))})",
                            moved).fetchone()[0] == len(moved)
    finally:
        conn.close()


def test_a_symlink_loop_under_sessions_ends(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=3)
    (built.root / "sessions" / "2026" / "loop").symlink_to(built.root / "sessions", target_is_directory=True)
    data = guarded(lambda: audit(built.root), [])
    assert data["counts"]["sessions_total"] == 3


# ------------------------------------------------------------------------- rows and findings


def test_every_text_finding_names_its_threads(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", HomeSpec(
        version="0.171.0", sessions=12, providers=("openai", "azure"), seed=4,
        damage={"provider_mismatch": 1, "empty_preview": 1, "archived_flag_mismatch": 1, "not_json": 1}))
    bad = sorted(built.sessions)[5]
    conn = sqlite3.connect(built.state_db)
    conn.execute("UPDATE threads SET cwd = CAST(? AS TEXT) WHERE id = ?", (b"/home/u/caf\xe9", bad))
    conn.commit()
    conn.close()
    data = audit(built.root)
    assert data["problem_samples"]["undecodable_row"] == [bad]
    text = cli("audit", "--codex-home", str(built.root)).stdout
    findings = text.split("other findings:\n", 1)[1].split("\n\n", 1)[0].split("\nvisibility")[0]
    lines = [x for x in findings.splitlines() if x.startswith("  ") and ": " in x and "sample:" in x]
    assert lines and len(lines) == len([k for k in data["problems"] if k not in (
        "disk_not_in_db", "db_not_on_disk", "missing_rollout_path", "duplicate_rollout_id", "active_orphan")])
    for line in lines:
        key = line.strip().split(":", 1)[0]
        assert data["problem_samples"][key][0] in line, line
    assert next(x for x in lines if x.strip().startswith("undecodable_row:")).count(bad) == 1


def test_a_row_with_a_value_of_the_wrong_type_is_reported_and_left_alone(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=4)
    bad = sorted(built.sessions)[1]
    conn = sqlite3.connect(built.state_db)
    conn.execute("UPDATE threads SET archived = 'yes', created_at = 'then' WHERE id = ?", (bad,))
    conn.commit()
    conn.close()
    data = audit(built.root)
    assert "malformed_row" in _thread(data, bad)["problems"]
    code, plan = cli_json("run", "migrate-provider", "--to-provider", "azure", "--codex-home", str(built.root))
    assert code == 0 and bad not in {op["subject"] for op in plan["data"]["plan"]["operations"]}
    assert any(bad in w and "wrong type" in w for w in plan["data"]["plan"]["warnings"]), plan


@pytest.mark.parametrize("database", ["state_5.sqlite", "thread_history_1.sqlite"])
def test_a_database_whose_header_says_read_only_is_refused_before_the_first_write(tmp_path: Path,
                                                                                 database: str) -> None:
    """Found by the home fuzzer: one flipped bit in the header's write version (byte 18) made
    SQLite open the file read-only, and `fix --apply` stopped with an I/O error after its first
    phase had moved a file. Now every database of the home is checked before anything is written."""
    built = build_home(tmp_path / "home", HomeSpec(version="0.171.0", sessions=6, providers=("openai", "azure"),
                                                   archived_share=0.2, exec_share=0.0, seed=41,
                                                   damage={"orphan": 1, "moved_file": 1}))
    conn = sqlite3.connect(built.root / "state_5.sqlite")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    db = built.root / database
    data = bytearray(db.read_bytes())
    assert data[18] in (1, 2)
    data[18] ^= 4
    db.write_bytes(bytes(data))
    before = snapshot(built.root)
    for args in (("fix", "--unarchive", "--forget-missing", "--apply"), ("run", "repair-paths", "--apply")):
        code, out = cli_json(*args, "--codex-home", str(built.root))
        assert code == 1 and out["errors"][0]["code"] == "database_damaged", out
        assert "marks it read-only" in out["errors"][0]["message"]
        assert snapshot(built.root) == before
