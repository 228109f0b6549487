"""Conflicts after a run, and bad input that must leave everything untouched."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import BuiltHome, HomeSpec, build_home
from tests.codexhome import audit, row, run, snapshot, undo

pytestmark = pytest.mark.posix  # helper processes hold locks with fcntl


def _home(tmp_path: Path, **kw: Any) -> BuiltHome:
    spec = HomeSpec(version="0.169.0", sessions=kw.pop("sessions", 4), archived_share=0.0, exec_share=0.0,
                    providers=kw.pop("providers", ("openai",)), seed=7, **kw)
    return build_home(tmp_path / "home", spec)


@contextmanager
def holding(script: str, *args: str) -> Iterator[int]:
    """Run a helper process that holds something until killed; yields its pid once it is ready."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


WRITER_LOCK = """
import fcntl, os, sys, time
os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("ready", flush=True)
time.sleep(60)
"""
DB_OPEN = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT COUNT(*) FROM threads").fetchone()
print("ready", flush=True)
time.sleep(60)
"""
DB_WRITE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=DELETE") if len(sys.argv) > 2 else None
conn.execute("BEGIN IMMEDIATE")
print("ready", flush=True)
time.sleep(60)
"""


def test_codex_appends_after_a_migration_undo_refuses_then_force_keeps_the_turn(tmp_path: Path) -> None:
    built = _home(tmp_path)
    session = next(iter(built.sessions.values()))
    original = session.path.read_bytes()
    code, applied = run(built.root, "migrate-provider", "--to-provider", "azure", "--thread", session.id, "--apply")
    assert code == 0, applied
    turn = (b'{"timestamp":"2026-11-24T13:00:00.000Z","ordinal":99,"type":"event_msg",'
            b'"payload":{"type":"task_started"}}\n')
    with open(session.path, "ab") as handle:
        handle.write(turn)
    refused_state = snapshot(built.root)
    code, refused = undo(built.root, applied["data"]["run"])
    assert code == 3 and refused["errors"][0]["code"] == "conflict"
    assert "changed since" in refused["errors"][0]["message"]
    assert snapshot(built.root) == refused_state
    code, forced = undo(built.root, applied["data"]["run"], "--force")
    assert code == 0, forced
    assert session.path.read_bytes() == original + turn
    assert row(built.root, session.id)["model_provider"] == "openai"  # type: ignore[index]


def test_row_changed_after_the_run_undo_refuses_then_force(tmp_path: Path) -> None:
    built = _home(tmp_path)
    session = next(iter(built.sessions.values()))
    code, applied = run(built.root, "migrate-provider", "--to-provider", "azure", "--thread", session.id, "--apply")
    assert code == 0
    conn = sqlite3.connect(built.root / "state_5.sqlite")
    conn.execute("UPDATE threads SET model_provider = 'somebody-else' WHERE id = ?", (session.id,))
    conn.commit()
    conn.close()
    before = snapshot(built.root)
    code, refused = undo(built.root, applied["data"]["run"])
    assert code == 3 and refused["errors"][0]["code"] == "conflict"
    assert "somebody-else" in refused["errors"][0]["message"]  # it says what the row holds now
    assert snapshot(built.root) == before
    code, forced = undo(built.root, applied["data"]["run"], "--force")
    assert code == 0
    assert row(built.root, session.id)["model_provider"] == "openai"  # type: ignore[index]
    assert session.path.read_bytes() == session.data


def _expect_refusal(built: BuiltHome, args: list[str], message: str, code: int = 3) -> None:
    before = snapshot(built.root)
    got, data = run(built.root, *args, "--apply")
    assert got == code, data
    text = " ".join([e["message"] for e in data["errors"]] +
                    [r["reason"] for r in (data["data"] or {}).get("plan", {}).get("refused", [])])
    assert message in text, text
    assert snapshot(built.root) == before
    journal = built.root / "codex-sessions" / "journal.jsonl"
    assert not journal.exists() or b'"intent"' not in journal.read_bytes()


def test_refused_while_a_session_writer_lock_is_held(tmp_path: Path) -> None:
    built = _home(tmp_path)
    some = next(iter(built.sessions))
    with holding(WRITER_LOCK, str(built.root / "thread-writer-locks" / f"{some}.lock")):
        _expect_refusal(built, ["migrate-provider", "--to-provider", "azure"], "writer lock")


def test_refused_while_another_process_has_the_database_open(tmp_path: Path) -> None:
    built = _home(tmp_path)
    with holding(DB_OPEN, str(built.root / "state_5.sqlite")) as pid:
        _expect_refusal(built, ["migrate-provider", "--to-provider", "azure"], f"open in pid {pid}")


def test_refused_while_the_database_is_locked(tmp_path: Path) -> None:
    built = _home(tmp_path)
    conn = sqlite3.connect(built.root / "state_5.sqlite")
    conn.execute("PRAGMA journal_mode=DELETE")  # a rollback-journal database: no -shm to look at
    conn.close()
    with holding(DB_WRITE_LOCK, str(built.root / "state_5.sqlite")):
        _expect_refusal(built, ["migrate-provider", "--to-provider", "azure"], "locked by another process")


def test_refused_for_an_undefined_target_provider(tmp_path: Path) -> None:
    built = _home(tmp_path)
    _expect_refusal(built, ["migrate-provider", "--to-provider", "ghost"], "is not defined")
    code, data = run(built.root, "migrate-provider", "--to-provider", "ghost", "--force")
    assert code == 0 and len(data["data"]["plan"]["operations"]) == 4


def test_a_rollout_with_a_corrupt_first_line_is_left_alone(tmp_path: Path) -> None:
    built = _home(tmp_path, damage={"not_json": 1})
    (bad,) = built.truth["not_json"]
    _expect_refusal(built, ["migrate-provider", "--to-provider", "azure", "--thread", bad],
                    "not a readable session_meta")


def test_a_rollout_path_outside_the_home_is_left_alone(tmp_path: Path) -> None:
    built = _home(tmp_path)
    session = next(iter(built.sessions.values()))
    outside = tmp_path / "elsewhere" / session.path.name
    outside.parent.mkdir()
    session.path.rename(outside)
    conn = sqlite3.connect(built.root / "state_5.sqlite")
    conn.execute("UPDATE threads SET rollout_path = ? WHERE id = ?", (str(outside), session.id))
    conn.commit()
    conn.close()
    _expect_refusal(built, ["migrate-provider", "--to-provider", "azure", "--thread", session.id],
                    "outside the Codex home")
    assert outside.read_bytes() == session.data


def test_a_symlinked_rollout_is_left_alone(tmp_path: Path) -> None:
    built = _home(tmp_path)
    session = next(iter(built.sessions.values()))
    target = tmp_path / "real-file.jsonl"
    session.path.rename(target)
    session.path.symlink_to(target)
    _expect_refusal(built, ["migrate-provider", "--to-provider", "azure", "--thread", session.id], "symlink")
    assert target.read_bytes() == session.data


def test_a_read_only_rollout_is_left_alone(tmp_path: Path) -> None:
    built = _home(tmp_path)
    session = next(iter(built.sessions.values()))
    os.chmod(session.path, 0o444)
    _expect_refusal(built, ["migrate-provider", "--to-provider", "azure", "--thread", session.id], "read-only")


def test_a_pending_recovery_blocks_runs(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=2)
    code, applied = run(built.root, "migrate-provider", "--to-provider", "azure", "--apply")
    assert code == 0
    journal = built.root / "codex-sessions" / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    outcome = next(i for i, line in enumerate(lines) if b'"kind":"outcomes"' in line)
    journal.write_bytes(b"".join(lines[:outcome]))  # as if the run died after its intents
    got, data = run(built.root, "archive", "--apply")
    assert got == 3 and data["errors"][0]["code"] == "pending_recovery", data
    assert "recover" in data["errors"][0]["message"]  # it says what to run


def test_the_audit_still_reads_a_home_whose_run_was_refused(tmp_path: Path) -> None:
    built = _home(tmp_path, damage={"not_json": 1})
    assert audit(built.root)["problems"] == {"unreadable_file": 1}


def _damage_threads_page(db: Path) -> None:
    """Break the b-tree page that holds `threads` (an invalid page type), as disk damage would."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'threads'").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    data[(root - 1) * page_size] = 0x07
    db.write_bytes(bytes(data))


def test_refused_on_a_damaged_database(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=40)
    _damage_threads_page(built.root / "state_5.sqlite")
    before = {p: p.read_bytes() for p in (built.root / "sessions").rglob("*.jsonl")}
    code, data = run(built.root, "migrate-provider", "--to-provider", "azure", "--apply")
    assert code == 1 and data["errors"][0]["code"] == "database_damaged", data
    assert "nothing was changed" in data["errors"][0]["message"]
    assert {p: p.read_bytes() for p in before} == before
    from tests.helpers import cli
    audited = cli("audit", "--codex-home", str(built.root))
    assert audited.exit_code == 1 and "damaged" in audited.stderr and "Traceback" not in audited.stderr


def test_undo_refuses_on_a_damaged_database(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=40)
    code, applied = run(built.root, "migrate-provider", "--to-provider", "azure", "--apply")
    assert code == 0, applied
    after = {p: p.read_bytes() for p in (built.root / "sessions").rglob("*.jsonl")}
    _damage_threads_page(built.root / "state_5.sqlite")
    code, refused = undo(built.root, applied["data"]["run"])
    assert code == 1 and refused["errors"][0]["code"] == "database_damaged"  # as on `run`: an error, not a conflict
    assert {p: p.read_bytes() for p in after} == after


def test_a_damaged_database_exits_the_same_on_run_and_undo(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=40)
    code, applied = run(built.root, "migrate-provider", "--to-provider", "azure", "--apply")
    assert code == 0, applied
    _damage_threads_page(built.root / "state_5.sqlite")
    code, ran = run(built.root, "migrate-provider", "--to-provider", "openai", "--apply")
    code_undo, undone = undo(built.root, applied["data"]["run"])
    assert (code, ran["errors"][0]["code"]) == (1, "database_damaged")
    assert (code_undo, undone["errors"][0]["code"]) == (1, "database_damaged"), undone
