"""`replay` of a run that is in effect skips it as its dry run says; undo of a row delete gives
the row back under its rowid (and still reads older journals, whose row_delete has none)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from fixtures.generator import HomeSpec, build_home
from journal.effects import RowDelete, effect_from_json
from journal.index import JournalIndex
from journal.runner import PlannedOp
from tests.codexhome import snapshot
from tests.helpers import World, cli_json


def _rowids(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {thread: rowid for rowid, thread in conn.execute("SELECT rowid, id FROM threads")}
    finally:
        conn.close()


def test_replay_of_a_run_in_effect_skips_every_operation_as_the_dry_run_said(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_home(home, HomeSpec(sessions=3, archived_share=1.0, exec_share=0.0, providers=("openai",), seed=3))
    code, fixed = cli_json("fix", "--unarchive", "--apply", "--codex-home", str(home))
    assert code == 0, fixed
    after = snapshot(home)
    run = fixed["data"]["run"]
    code, dry = cli_json("replay", run, "--codex-home", str(home))
    assert code == 0 and len(dry["data"]["plan"]["would_skip"]) == 6, dry
    code, replayed = cli_json("replay", run, "--apply", "--codex-home", str(home))
    assert code == 0, replayed  # not three failures with a raw ENOENT
    assert replayed["data"]["counts"] == {"applied": 0, "skipped": 6, "failed": 0}
    assert all(o["reason"].startswith("already applied") for o in replayed["data"]["operations"])
    assert snapshot(home) == after


def test_undo_of_forget_missing_gives_the_rows_back_under_their_rowids(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", HomeSpec(sessions=6, archived_share=0.0, exec_share=0.0, seed=4,
                                                   providers=("openai",), damage={"missing_file": 2}))
    db = built.root / "state_5.sqlite"
    before, rows_before = _rowids(db), snapshot(built.root)
    code, applied = cli_json("run", "forget-missing", "--apply", "--codex-home", str(built.root))
    assert code == 0 and applied["data"]["counts"]["applied"] == 2, applied
    kept = next(t for t in _rowids(db))
    conn = sqlite3.connect(db)  # a new thread meanwhile takes the next rowid, as Codex's next one would
    columns = [c[1] for c in conn.execute("PRAGMA table_info(threads)")]
    picked = ", ".join("'new-thread'" if c == "id" else f'"{c}"' for c in columns)
    conn.execute(f"INSERT INTO threads SELECT {picked} FROM threads WHERE id = ?", (kept,))
    conn.commit()
    conn.close()
    code, undone = cli_json("undo", applied["data"]["run"], "--apply", "--codex-home", str(built.root))
    assert code == 0, undone
    assert {t: r for t, r in _rowids(db).items() if t != "new-thread"} == before  # not new rowids
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM threads WHERE id = 'new-thread'")
    conn.commit()
    conn.close()
    assert snapshot(built.root) == rows_before


def test_a_row_delete_journaled_without_a_rowid_is_still_undone(world: World) -> None:
    older = {"kind": "row_delete", "db": str(world.db), "table": "items", "key": {"id": "c"},
             "row": {"id": "c", "name": "gamma", "n": 3, "data": None}}
    effect = effect_from_json(older)
    assert isinstance(effect, RowDelete) and effect.rowid is None and effect.to_json() == older
    world.execute([PlannedOp("forget c", (effect,))])
    assert world.row("c") is None
    journal = world.journal.read_bytes()
    assert b'"rowid"' not in journal
    index = JournalIndex.load(str(world.journal))
    run = next(iter(index.runs))
    code, undone = cli_json("undo", run, "--apply", "--journal", str(world.journal), "--codex-home", str(world.root))
    assert code == 0, undone
    assert world.row("c") == {"id": "c", "name": "gamma", "n": 3, "data": None}
    assert orjson.loads(journal.splitlines()[0])["kind"] == "genesis"
