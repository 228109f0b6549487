"""Compressed rollouts (`.jsonl.zst`, as Codex's worker leaves them) are sessions too: every
operation does to a compressed home what it does to the same home uncompressed, content for
content and row for row, and undo gives back the exact compressed bytes and mtimes.

Each test builds one home twice from one spec: plain, and with every rollout compressed the way
`codex app-server --enable local_thread_store_compression` compresses them (level 3, mtime and
mode kept, rows left naming `.jsonl`). The real binary's side is in tests/test_codex_compressed.py.
"""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import zstandard

from fixtures.generator import DAMAGE_KINDS, BuiltHome, HomeSpec, build_home
from journal.clock import Services
from journal.zstdio import decompress
from operations.cli import context
from operations.rollout_io import plain_name
from tests.codexhome import TABLES, audit, run, snapshot, undo
from tests.helpers import TickingClock, cli_json, fixed_services

EVERY_DAMAGE = dict.fromkeys(DAMAGE_KINDS, 1)


@pytest.fixture(autouse=True)
def same_clock_each_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command starts its clock at the same moment, so a plain home and a compressed one
    given the same commands get the same timestamps (unarchive touches mtimes to now)."""
    seeds = itertools.count(1)

    def services() -> Services:
        clock = TickingClock()
        clock.ticks = itertools.count()  # type: ignore[misc]
        return fixed_services(next(seeds), clock)  # ids stay unique: each command its own seed

    monkeypatch.setattr(context, "make_services", services)


def _pair(tmp_path: Path, **spec: Any) -> tuple[BuiltHome, BuiltHome]:
    base = {"version": "0.171.0", "sessions": 30, "providers": ("mockB", "mockA"), "current_provider": "mockA",
            "defined_providers": ("mockA", "mockB"), "archived_share": 0.2, "exec_share": 0.2, "seed": 13,
            "turns": 2, "damage": EVERY_DAMAGE, **spec}
    plain = build_home(tmp_path / "plain" / "home", HomeSpec(**base))
    packed = build_home(tmp_path / "packed" / "home", HomeSpec(**base, compressed_share=1.0))
    return plain, packed


def _content(home: Path) -> dict[str, Any]:
    """Every rollout by its plain name: (content, mtime), decompressed when it is a .zst (and
    marked so); and every row of the tables this tool touches, with this home's root and any
    .zst suffix taken out of paths."""
    files = {}
    for folder in ("sessions", "archived_sessions"):
        for path in sorted((home / folder).rglob("rollout-*")):
            raw = path.read_bytes()
            packed = path.name.endswith(".zst")
            data = decompress(raw, 1 << 30) if packed else raw
            files[plain_name(str(path.relative_to(home)))] = (data, path.stat().st_mtime_ns)
    rows: dict[str, list[Any]] = {}
    for db, tables in TABLES.items():
        conn = sqlite3.connect(home / db)
        try:
            for table in tables:
                found = []
                for row in conn.execute(f"SELECT * FROM {table}"):
                    found.append(tuple(plain_name(v.replace(str(home), "HOME")) if isinstance(v, str) else v
                                       for v in row))
                rows[table] = sorted(found, key=repr)
        finally:
            conn.close()
    return {"files": files, "rows": rows}


def _compressed_names(home: Path) -> set[str]:
    return {plain_name(str(p.relative_to(home))) for p in home.rglob("rollout-*.jsonl.zst")}


def test_the_audit_sees_a_compressed_home_as_the_same_home(tmp_path: Path) -> None:
    plain, packed = _pair(tmp_path)
    (pair,) = packed.truth["plain_and_zst"]
    assert len(packed.truth["compressed"]) >= 30  # every rollout but the one with a .zst twin already
    assert [p.name for p in packed.root.rglob("rollout-*.jsonl")] == [packed.sessions[pair].path.name]
    a, b = audit(plain.root), audit(packed.root)
    assert b["problems"] == a["problems"]
    assert b["integrity"]["disk_not_in_db_count"] == a["integrity"]["disk_not_in_db_count"]
    assert {k: v["by_reason"] for k, v in b["visibility"].items()} == {k: v["by_reason"] for k, v in
                                                                      a["visibility"].items()}
    assert b["counts"] == a["counts"]


@pytest.mark.parametrize("version", ["0.171.0", "0.169.0"])
def test_fix_does_to_compressed_rollouts_what_it_does_to_plain_ones_and_undo_gives_every_byte_back(
        tmp_path: Path, version: str) -> None:
    plain, packed = _pair(tmp_path, version=version)
    args = ("fix", "--unarchive", "--forget-missing")
    code, dry_plain = cli_json(*args, "--codex-home", str(plain.root))
    code2, dry_packed = cli_json(*args, "--codex-home", str(packed.root))
    assert code == code2 == 0
    assert dry_packed["data"]["predicted"] == dry_plain["data"]["predicted"]
    phases = [(p["phase"], p["operations"]) for p in dry_packed["data"]["phases"]]
    assert phases == [(p["phase"], p["operations"]) for p in dry_plain["data"]["phases"]]
    assert dict(phases)["migrate-provider"] >= 10

    before = snapshot(packed.root)
    compressed_before = _compressed_names(packed.root)
    for home in (plain.root, packed.root):
        code, applied = cli_json(*args, "--apply", "--codex-home", str(home))
        assert code == 0, applied
    assert _content(packed.root) == _content(plain.root)  # the same contents, rows, offsets and mtimes
    assert len(_compressed_names(packed.root)) == len(compressed_before)  # compressed files stay compressed
    for path in packed.root.rglob("rollout-*.jsonl.zst"):  # each one frame Codex's reader takes
        assert zstandard.get_frame_parameters(path.read_bytes()).content_size != zstandard.CONTENTSIZE_UNKNOWN
    after = snapshot(packed.root)

    code, undone = undo(packed.root, applied["data"]["run"])
    assert code == 0, undone
    assert snapshot(packed.root) == before  # every compressed byte and mtime, every row
    code, redone = cli_json("redo", undone["data"]["run"], "--apply", "--codex-home", str(packed.root))
    assert code == 0, redone
    assert _content(packed.root) == _content(plain.root)
    assert snapshot(packed.root)["rows"] == after["rows"]


def test_rewrite_cwd_archive_and_relocate_on_compressed_rollouts(tmp_path: Path) -> None:
    plain, packed = _pair(tmp_path, damage={"outside_home": 2}, archived_share=0.3)
    steps = [("run", "rewrite-cwd", "--from-folder", "/home/u/proj-a", "--to-folder", "/home/u/renamed-a"),
             ("run", "relocate-home", "--from-home", "/elsewhere/old-home"),
             ("run", "unarchive"),
             ("run", "archive", "--cwd", "/home/u/proj-b")]
    runs = []
    before = snapshot(packed.root)
    for step in steps:
        for home in (plain.root, packed.root):
            code, applied = cli_json(*step, "--apply", "--codex-home", str(home))
            assert code == 0, (step, applied)
            assert applied["data"]["counts"]["applied"] > 0, step
        runs.append(applied["data"]["run"])
        assert _content(packed.root) == _content(plain.root), step
    assert len(_compressed_names(packed.root)) == len(packed.truth["compressed"])
    # Codex names the .zst in the row once it archived or unarchived a compressed file: so does this
    conn = sqlite3.connect(packed.root / "state_5.sqlite")
    paths = [p for (p,) in conn.execute("SELECT rollout_path FROM threads WHERE archived = 1")]
    conn.close()
    assert paths and all(p.endswith(".jsonl.zst") and Path(p).exists() for p in paths)
    assert audit(packed.root)["problems"] == audit(plain.root)["problems"]
    for run_id in reversed(runs):
        code, undone = undo(packed.root, run_id)
        assert code == 0, undone
    assert snapshot(packed.root) == before


def test_a_plain_file_beside_its_zst_is_the_one_edited_and_the_zst_moves_with_it(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", HomeSpec(
        version="0.171.0", sessions=6, providers=("mockB",), current_provider="mockA",
        defined_providers=("mockA", "mockB"), archived_share=0.0, exec_share=0.0, seed=5,
        damage={"plain_and_zst": 1}))
    (thread,) = built.truth["plain_and_zst"]
    plain = built.sessions[thread].path
    twin = Path(str(plain) + ".zst")
    twin_bytes = twin.read_bytes()
    code, applied = run(built.root, "migrate-provider", "--thread", thread, "--apply")
    assert code == 0, applied
    assert b'"model_provider":"mockA"' in plain.read_bytes().split(b"\n")[0]
    assert twin.read_bytes() == twin_bytes  # Codex reads the plain file; the twin is left as it was
    assert any("Codex reads the plain file" in w for w in applied["data"]["plan"]["warnings"]), applied["data"]
    code, archived = run(built.root, "archive", "--thread", thread, "--apply")
    assert code == 0, archived
    moved = built.root / "archived_sessions" / plain.name
    assert moved.exists() and Path(str(moved) + ".zst").read_bytes() == twin_bytes
    assert not plain.exists() and not twin.exists()
    assert "plain_and_zst" in next(t for t in audit(built.root)["threads"] if t["id"] == thread)["problems"]


def test_import_orphans_and_export_import_of_compressed_rollouts(tmp_path: Path) -> None:
    plain, packed = _pair(tmp_path, damage={"orphan": 3}, archived_share=0.0)
    for home in (plain.root, packed.root):
        code, applied = run(home, "import-orphans", "--apply")
        assert code == 0 and applied["data"]["counts"]["applied"] == 3, applied
    assert _content(packed.root) == _content(plain.root)
    targets = []
    for built in (plain, packed):
        bundle = built.root.parent / "bundle.zip"
        code, exported = cli_json("export", "-o", str(bundle), "--provider", "mockB", "--codex-home", str(built.root))
        assert code == 0, exported
        target = build_home(built.root.parent / "target", HomeSpec(
            version="0.171.0", sessions=1, providers=("mockA",), current_provider="mockA",
            defined_providers=("mockA", "mockC"), seed=99))
        code, imported = cli_json("import", str(bundle), "--to-provider", "mockC", "--apply", "--codex-home",
                                  str(target.root))
        assert code == 0, imported
        assert imported["data"]["counts"]["applied"] >= 5, imported["data"]
        targets.append(target.root)
    assert _content(targets[1]) == _content(targets[0])
    assert _compressed_names(targets[1]) and not _compressed_names(targets[0])
    first_lines = [decompress(p.read_bytes(), 1 << 30).split(b"\n")[0] for p in targets[1].rglob("*.jsonl.zst")]
    assert all(b'"model_provider":"mockC"' in line for line in first_lines)
    merged = []
    for built in (plain, packed):  # merge: the same, straight from the other home
        target = build_home(built.root.parent / "merged", HomeSpec(
            version="0.171.0", sessions=1, providers=("mockA",), current_provider="mockA",
            defined_providers=("mockA", "mockD"), seed=98))
        code, done = cli_json("merge", "--from-home", str(built.root), "--provider", "mockB", "--to-provider", "mockD",
                              "--apply", "--codex-home", str(target.root))
        assert code == 0, done
        merged.append(target.root)
    assert _content(merged[1]) == _content(merged[0]) and _compressed_names(merged[1])


def test_prune_removes_kept_originals_only_when_no_operation_in_effect_needs_them(tmp_path: Path) -> None:
    _, packed = _pair(tmp_path, damage={})
    store = packed.root / "codex-sessions" / "staging" / "originals"
    code, applied = run(packed.root, "migrate-provider", "--apply")
    assert code == 0, applied
    migrated = applied["data"]["counts"]["applied"]
    assert migrated >= 10 and len(list(store.iterdir())) == migrated
    journal = (packed.root / "codex-sessions" / "journal.jsonl").read_bytes()
    assert all(p.name.encode() in journal for p in store.iterdir())  # the journal names each copy by digest
    assert len(journal) / migrated < 2500  # and holds no file: about a kilobyte per thread
    code, pruned = cli_json("prune", "--codex-home", str(packed.root))
    assert code == 0 and len(pruned["data"]["originals"]["kept"]) == migrated
    assert not pruned["data"]["originals"]["removed"]
    code, undone = undo(packed.root, applied["data"]["run"])
    assert code == 0, undone
    code, pruned = cli_json("prune", "--codex-home", str(packed.root))
    assert code == 0 and len(pruned["data"]["originals"]["removed"]) == migrated
    assert not list(store.iterdir())
    code, redone = cli_json("redo", undone["data"]["run"], "--apply", "--codex-home", str(packed.root))
    assert code == 0, redone
    assert len(list(store.iterdir())) == migrated  # the redo kept the originals again
    code, pruned = cli_json("prune", "--codex-home", str(packed.root))
    assert code == 0 and not pruned["data"]["originals"]["removed"]
    code, again = undo(packed.root, applied["data"]["run"])
    assert code == 0, again
