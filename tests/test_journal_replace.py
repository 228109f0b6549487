"""`file_replace`: a small file's whole content, compare-and-swap on it and on its witnesses,
undone byte for byte with its mtime, read back from the journal exactly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from journal.effects import FileReplace, Witness, effect_from_json
from journal.errors import CasFailed
from journal.runner import PlannedOp
from tests.helpers import World, cli_json

DAMAGED = b'{"local-projects": {"a": 1' + b"\x00" * 40
GOOD = b'{"local-projects": {}}\n'


def _witness(path: Path) -> Witness:
    data = path.read_bytes()
    return Witness(str(path), len(data), hashlib.sha256(data).hexdigest())


def test_replace_then_undo_and_redo_byte_for_byte_with_the_mtime_kept(world: World) -> None:
    target = world.file(".state.json", DAMAGED, mtime_ns=1_650_000_000_123_456_789)
    bak = world.file(".state.json.bak", GOOD)
    before = world.snapshot()
    op = PlannedOp("restore", (FileReplace(str(target), DAMAGED, GOOD, (_witness(bak),)),), subject="state")
    result = world.execute([op])
    assert result.status == "ok"
    assert target.read_bytes() == GOOD and target.stat().st_mtime_ns == 1_650_000_000_123_456_789
    after = world.snapshot()
    code, shown = cli_json("show", result.run_id, "--journal", str(world.journal))
    assert code == 0 and "replace" in str(shown["data"])
    code, undone = cli_json("undo", result.run_id, "--apply", "--journal", str(world.journal))
    assert code == 0, undone
    assert world.snapshot() == before
    code, redone = cli_json("redo", undone["data"]["run"], "--apply", "--journal", str(world.journal))
    assert code == 0, redone
    assert world.snapshot() == after


def test_a_witness_that_changed_stops_the_replace(world: World) -> None:
    target = world.file(".state.json", DAMAGED)
    bak = world.file(".state.json.bak", GOOD)
    effect = FileReplace(str(target), DAMAGED, GOOD, (_witness(bak),))
    bak.write_bytes(GOOD + b" ")  # the app wrote its .bak again after the plan
    with pytest.raises(CasFailed, match="changed since the plan"):
        effect.apply()
    assert target.read_bytes() == DAMAGED
    result = world.execute([PlannedOp("restore", (effect,), subject="state")])
    assert result.status != "ok" and target.read_bytes() == DAMAGED


def test_a_target_that_changed_is_neither_applied_nor_undone(world: World) -> None:
    target = world.file(".state.json", DAMAGED)
    effect = FileReplace(str(target), DAMAGED, GOOD)
    target.write_bytes(b"{}")
    assert effect.probe().state == "other" and effect.probe().blocking
    with pytest.raises(CasFailed):
        effect.apply()
    assert target.read_bytes() == b"{}"
    assert effect.inverse().probe().state == "other"


def test_the_journal_keeps_both_contents_exactly(world: World) -> None:
    binary = bytes(range(256))
    effect = FileReplace(str(world.root / "x"), binary, DAMAGED, (Witness("/w", 3, "ab" * 32),))
    back = effect_from_json(effect.to_json())
    assert back == effect
    data = effect.to_json()
    data["after"]["data"] = "tampered"
    with pytest.raises(ValueError, match="does not match its sha256"):
        effect_from_json(data)
