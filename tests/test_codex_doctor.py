"""Codex's own doctor (`codex doctor --json`, check `state.rollout_db_parity`, 0.169 and 0.171;
0.128 has no doctor) against the audit, through `audit --codex-doctor`: on homes with every kind
of damage, plain and compressed, every figure the doctor prints equals the audit's data counted
the doctor's way; where both define a figure alike it equals the audit's own figure; where they
differ, the difference is named (operations/doctor.py DIFFERENCES, and docs/codex-doctor.md).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from fixtures.generator import DAMAGE_KINDS, BuiltHome, HomeSpec, build_home
from operations.doctor import DIFFERENCES, SAME
from tests.codexhome import snapshot
from tests.helpers import cli_json

pytestmark = pytest.mark.codex
# the doctor's figures defined as the audit defines them: equal to the audit's own figure
SAME_AS_AUDIT = ("default model provider", "rows", "active rows", "archived rows", "stale rows", "model providers")
# the differences in definition, each named where it shows
NAMED = {"active files": "files", "archived files": "files", "scan errors": "files",
         "missing active rows": "missing rows", "missing archived rows": "missing rows",
         "archive mismatches": "archive mismatches", "duplicate rollout thread ids": "duplicates",
         "scan cap reached": "scan cap", "malformed file names": "doctor only", "duplicate DB paths": "doctor only"}


def _spec(version: str, damage: dict[str, int], compressed: bool) -> HomeSpec:
    return HomeSpec(version=version, sessions=30, providers=("mockB", "mockA"), current_provider="mockA",
                    defined_providers=("mockA", "mockB"), archived_share=0.25, exec_share=0.3, seed=13,
                    damage=damage, compressed_share=1.0 if compressed else 0.0)


def _extra_damage(built: BuiltHome) -> None:
    """What the generator has no knob for, seen to matter in experiments: a copy under a name
    without an id, a first line that is JSON but no session_meta, a damaged .zst, a row naming
    the .zst (as Codex's archive of a compressed file leaves it), an archived row whose file
    moved into sessions/."""
    home = built.root
    damaged = {t for ids in built.truth.values() for t in ids if ids is not built.truth.get("compressed")}
    conn = sqlite3.connect(home / "state_5.sqlite")
    try:
        rows = conn.execute("SELECT id, rollout_path, archived FROM threads ORDER BY id").fetchall()
        present = [(i, p, a) for i, p, a in rows
                   if i not in damaged and (os.path.exists(p) or os.path.exists(p + ".zst"))]
        actives = [r for r in present if not r[2]]
        archived = [r for r in present if r[2]]
        (_, first, _), (_, second, _), (third_id, third, _) = actives[:3]
        found = first if os.path.exists(first) else first + ".zst"
        Path(found).with_name("rollout-garbage" + (".jsonl.zst" if found.endswith(".zst") else ".jsonl")) \
            .write_bytes(Path(found).read_bytes())
        plain = second if os.path.exists(second) else None
        if plain:
            data = Path(plain).read_bytes()
            Path(plain).write_bytes(b'{"type":"event_msg","payload":{}}\n' + data.split(b"\n", 1)[1])
        packed = Path(third + ".zst") if os.path.exists(third + ".zst") else Path(third)
        if packed.name.endswith(".zst"):
            packed.write_bytes(b"\x28\xb5\x2f\xfd" + b"damaged")
            zst = packed
        else:
            zst = Path(third + ".zst")
            zst.write_bytes(zstandard.ZstdCompressor(level=3).compress(packed.read_bytes()))
            packed.unlink()
        conn.execute("UPDATE threads SET rollout_path = ? WHERE id = ?", (str(zst), third_id))
        if archived:
            _, moved, _ = archived[0]
            source = Path(moved if os.path.exists(moved) else moved + ".zst")
            target = home / "sessions" / "2020" / "03" / "03" / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            source.rename(target)
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            codex_binary_for: Callable[[str], Path]) -> Callable[[str], None]:
    """Put one real Codex version first on the PATH as `codex`."""
    def use(version: str) -> None:
        folder = tmp_path / f"bin-{version}"
        folder.mkdir(exist_ok=True)
        link = folder / "codex"
        if not link.exists():
            link.symlink_to(codex_binary_for(version))
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    return use


def _files(home: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(home)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(home.rglob("*"))
            if p.is_file()}


def _doctor(home: Path) -> dict[str, Any]:
    before_files, before = _files(home), snapshot(home)
    code, data = cli_json("audit", "--codex-doctor", "--codex-home", str(home))
    assert code == 0, data
    after_files = _files(home)
    changed = {k for k in set(before_files) | set(after_files) if before_files.get(k) != after_files.get(k)}
    # the doctor only reads: SQLite's -shm, and an empty -wal where a reader opened the database
    assert all(k.endswith("-shm") or (k.endswith("-wal") and after_files[k][0] == 0) for k in changed), changed
    assert snapshot(home) == before
    comparison = data["data"]["codex_doctor"]
    assert comparison["unknown"] == {}, comparison["unknown"]  # every figure it prints is one we compare
    return comparison


def _check(comparison: dict[str, Any]) -> dict[str, dict[str, Any]]:
    figures = {f["name"]: f for f in comparison["figures"]}
    for name, f in figures.items():
        assert f["comparable"], name
        assert f["doctor"] == f["audit_as_doctor_counts"], (name, f)  # the doctor's figure, from the audit's data
        if name in SAME_AS_AUDIT:
            assert f["definition"] == SAME and f["doctor"] == f["audit"], (name, f)
        else:
            assert f["definition"].startswith(SAME) or f["definition"] == DIFFERENCES[NAMED[name]], (name, f)
    assert comparison["agrees"]
    return figures


@pytest.mark.parametrize("version", ["0.171.0", "0.169.0"])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "compressed"])
def test_the_doctor_counts_what_the_audit_counts_on_a_home_with_every_damage(
        tmp_path: Path, on_path: Callable[[str], None], version: str, compressed: bool) -> None:
    built = build_home(tmp_path / "home", _spec(version, dict.fromkeys(DAMAGE_KINDS, 1), compressed))
    _extra_damage(built)
    on_path(version)
    figures = _check(_doctor(built.root))
    assert figures["rows"]["doctor"] == 30 - 2  # two orphans
    assert figures["stale rows"]["doctor"] >= 3 and figures["scan errors"]["doctor"] == 2 + compressed
    # where the definitions differ, the numbers do here: each difference shows
    assert figures["active files"]["doctor"] < figures["active files"]["audit"]  # the pair once, unloadables out
    assert figures["missing active rows"]["doctor"] > figures["missing active rows"]["audit"]  # by path, not id
    assert figures["archive mismatches"]["doctor"] < figures["archive mismatches"]["audit"]  # only at the row's path
    assert figures["duplicate rollout thread ids"]["doctor"] > figures["duplicate rollout thread ids"]["audit"]
    assert figures["malformed file names"]["doctor"] == 0 and figures["scan cap reached"]["doctor"] is False


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_one_kind_of_damage_at_a_time(tmp_path: Path, on_path: Callable[[str], None], kind: str) -> None:
    built = build_home(tmp_path / "home", _spec("0.171.0", {kind: 1}, compressed=kind in ("duplicate", "orphan")))
    on_path("0.171.0")
    _check(_doctor(built.root))


def test_no_codex_on_the_path_or_a_codex_without_doctor_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_path: Callable[[str], None]) -> None:
    built = build_home(tmp_path / "home", _spec("0.171.0", {}, compressed=False))
    empty = tmp_path / "no-codex-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, data = cli_json("audit", "--codex-doctor", "--codex-home", str(built.root))
    assert (code, data["errors"][0]["code"]) == (2, "codex_not_found")
    assert "no `codex` on the PATH" in data["errors"][0]["message"]
    on_path("0.128.0")  # a release without `doctor`: it prints its usage and exits 2
    code, data = cli_json("audit", "--codex-doctor", "--codex-home", str(built.root))
    assert (code, data["errors"][0]["code"]) == (1, "doctor_failed")
    assert "without its JSON report" in data["errors"][0]["message"]
    code, data = cli_json("audit", "--codex-doctor", "--redact", "--codex-home", str(built.root))
    assert (code, data["errors"][0]["code"]) == (2, "usage")
