"""`zstd_edit`: splices inside a compressed file; undo puts the exact original bytes and mtime back
from the kept copy, whose bytes never enter the journal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import zstandard

from journal.effects import ZstdEdit, effect_from_json, plan_zstd_edit
from journal.errors import CasFailed
from journal.fileio import sha256_hex
from journal.runner import PlannedOp
from journal.zstdio import TooLarge, compress, decompress
from tests.helpers import World, cli, cli_json

J = "--journal"
PLAIN = b'{"provider":"old","pad":"' + b"x" * 3000 + b'"}\n{"turn":1}\n{"settings":"old"}\n'
MTIME = 1_650_000_000_123_456_789


def _compressed(world: World, rel: str = "sessions/2026/01/02/rollout-z.jsonl.zst", level: int = 19) -> Path:
    """A compressed file whose bytes a level-3 compression would not give back (level 19 here),
    so an undo that compressed again instead of restoring would be caught."""
    return world.file(rel, zstandard.ZstdCompressor(level=level, write_checksum=True).compress(PLAIN),
                      mtime_ns=MTIME)


def _edit(world: World, path: Path) -> ZstdEdit:
    raw = path.read_bytes()
    kept = str(world.root / "codex-sessions" / "staging" / "originals" / sha256_hex(raw))
    new_lines = {1: PLAIN.split(b"\n")[0].replace(b'"old"', b'"brand-new"'), 3: b'{"settings":"brand-new"}'}
    return plan_zstd_edit(str(path), new_lines, decompress(raw, 1 << 20), len(raw), sha256_hex(raw), kept)


def test_edit_undo_redo_restore_exact_bytes_and_mtime(world: World) -> None:
    path = _compressed(world)
    original = path.read_bytes()
    effect = _edit(world, path)
    before = world.snapshot()
    result = world.execute([PlannedOp("migrate z", (effect,), subject="z")])
    assert result.status == "ok", result
    after = world.snapshot()
    edited = decompress(path.read_bytes(), 1 << 20)
    assert edited == PLAIN.replace(b'"old"', b'"brand-new"')
    assert path.stat().st_mtime_ns == MTIME
    assert zstandard.get_frame_parameters(path.read_bytes()).content_size == len(edited)  # one whole frame
    kept = Path(effect.kept)
    assert kept.read_bytes() == original  # kept byte for byte, outside the journal
    assert original not in world.journal.read_bytes() and b"brand-new" in world.journal.read_bytes()

    code, undone = cli_json("undo", result.run_id, "--apply", J, str(world.journal))
    assert code == 0, undone
    assert path.read_bytes() == original and path.stat().st_mtime_ns == MTIME
    assert {k: v for k, v in world.snapshot()["files"].items() if "staging" not in k} == before["files"]

    code, redone = cli_json("redo", undone["data"]["run"], "--apply", J, str(world.journal))
    assert code == 0, redone
    assert world.snapshot() == after
    code, again = cli_json("undo", result.run_id, "--apply", J, str(world.journal))
    assert code == 0, again
    assert path.read_bytes() == original
    assert cli("verify", J, str(world.journal)).exit_code == 0


def test_the_journal_holds_digests_not_bytes_and_reads_back_the_same_effect(world: World) -> None:
    effect = _edit(world, _compressed(world))
    data = effect.to_json()
    assert data["kind"] == "zstd_edit" and data["original"]["size"] == len(Path(effect.path).read_bytes())
    assert effect_from_json(data) == effect
    assert effect_from_json(effect.inverse().to_json()) == effect.inverse()
    assert effect.inverse().inverse() == effect
    assert effect.paths() == (effect.path, effect.kept) and effect.targets() == (f"file:{effect.path}",)


def test_a_compressed_file_changed_since_planning_is_skipped_untouched(world: World) -> None:
    path = _compressed(world)
    effect = _edit(world, path)
    path.write_bytes(compress(PLAIN.replace(b"turn", b"TURN")))
    changed = path.read_bytes()
    result = world.execute([PlannedOp("migrate z", (effect,), subject="z")])
    assert result.ops[0].status == "skipped"
    assert path.read_bytes() == changed and not Path(effect.kept).exists()


def test_same_content_other_bytes_is_not_the_planned_file(world: World) -> None:
    """The kept copy must be the bytes the journal names: re-encoded content is refused."""
    path = _compressed(world)
    effect = _edit(world, path)
    world.file("sessions/2026/01/02/rollout-z.jsonl.zst", compress(PLAIN), mtime_ns=MTIME)
    assert effect.probe().state == "other"
    with pytest.raises(CasFailed):
        effect.apply()


def test_undo_is_blocked_while_the_kept_copy_is_gone(world: World) -> None:
    path = _compressed(world)
    original = path.read_bytes()
    result = world.execute([PlannedOp("migrate z", (_edit(world, path),), subject="z")])
    kept = next((world.root / "codex-sessions" / "staging" / "originals").iterdir())
    moved = kept.with_name("elsewhere")
    kept.rename(moved)
    code, refused = cli_json("undo", result.run_id, "--apply", "--force", J, str(world.journal))
    assert code == 3 and "kept at" in refused["errors"][0]["message"]
    moved.rename(kept)
    code, undone = cli_json("undo", result.run_id, "--apply", J, str(world.journal))
    assert code == 0, undone
    assert path.read_bytes() == original


def test_a_file_decompressed_and_appended_to_since_is_reverted_there_when_forced(world: World) -> None:
    """As Codex resumes a compressed session: the content goes to the name without .zst, the
    .zst is removed, a turn is appended. A forced undo reverts the edit and keeps the turn."""
    path = _compressed(world)
    result = world.execute([PlannedOp("migrate z", (_edit(world, path),), subject="z")])
    plain = Path(str(path)[: -len(".zst")])
    plain.write_bytes(decompress(path.read_bytes(), 1 << 20) + b'{"turn":2}\n')
    path.unlink()
    code, refused = cli_json("undo", result.run_id, "--apply", J, str(world.journal))
    assert code == 3 and refused["errors"][0]["code"] == "conflict"
    assert [c["blocking"] for c in refused["errors"][0]["plan"]["conflicts"]] == [False]  # forceable
    assert "decompressed" in refused["errors"][0]["message"]
    code, forced = cli_json("undo", result.run_id, "--apply", "--force", J, str(world.journal))
    assert code == 0, forced
    assert plain.read_bytes() == PLAIN + b'{"turn":2}\n' and not path.exists()


def test_decompression_is_bounded_and_cut_frames_are_refused() -> None:
    data = compress(b"a" * 100_000)
    assert decompress(data, 100_000) == b"a" * 100_000
    with pytest.raises(TooLarge):
        decompress(data, 99_999)
    with pytest.raises(ValueError, match="cut short"):
        decompress(compress(os.urandom(200_000))[:-50], 1 << 20)
    with pytest.raises(ValueError, match="empty"):
        decompress(b"", 10)
