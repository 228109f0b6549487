"""Every effect kind through the journal's API: apply, undo, redo, replay, dry runs, conflicts
refused and forced, cascades, targets outside the roots, on real files and a real SQLite database."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

import journal
from journal import ConflictRefused, NotFound, OutsideAllowedRoots, PlannedOp, RowChange, RowsUpdate
from tests.journal.world import World


def _ops_for_every_kind(world: World) -> list[PlannedOp]:
    src = world.file("data/2026/01/02/item-x.jsonl", b'{"a":1}\n{"b":2}\n')
    doc = world.file("doc.jsonl", b'{"provider":"old"}\n{"turn":1}\n{"turn":2}\n', mtime_ns=1_600_000_000_123_456_789)
    return [
        PlannedOp("move x", (world.move(src, world.root / "archive" / "item-x.jsonl", 1_800 * 10**15),
                             world.update("a", name="moved", n=None)), subject="x"),
        PlannedOp("rewrite doc", (world.rewrite(doc, 1, b'{"provider":"brand-new"}'),), subject="doc"),
        PlannedOp("insert d", (world.insert("d", name="delta", n=4, data=b"\xff"),), subject="d"),
        PlannedOp("delete c", (world.delete("c"),), subject="c"),
    ]


def _states(world: World, run_id: str) -> set[str]:
    return {op.state for op in journal.show(world.journal, run_id).inspection.ops}


def test_apply_then_undo_restores_every_byte_row_and_mtime_then_redo_and_replay(world: World) -> None:
    ops = _ops_for_every_kind(world)
    before = world.snapshot()
    result = world.execute(ops)
    assert result.status == "ok" and result.counts == {"applied": 4, "skipped": 0, "failed": 0}
    after = world.snapshot()
    assert after != before
    assert (world.root / "archive" / "item-x.jsonl").stat().st_mtime_ns == 1_800_000_000_000_000_000
    doc = world.root / "doc.jsonl"
    assert doc.read_bytes() == b'{"provider":"brand-new"}\n{"turn":1}\n{"turn":2}\n'
    assert doc.stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert world.row("d") == {"id": "d", "name": "delta", "n": 4, "data": b"\xff"}
    assert world.row("c") is None
    services, roots = world.services(), world.roots

    # the dry run changes nothing, writes nothing, and says what it would do, newest first
    journal_bytes = world.journal.read_bytes()
    dry = journal.undo(world.journal, result.run_id, services, roots=roots, apply=False)
    assert dry.refusal is None and dry.result is None
    assert [(op.action, op.label) for op in dry.plan.ops] == [
        ("undo", "delete c"), ("undo", "insert d"), ("undo", "rewrite doc"), ("undo", "move x")]
    assert world.snapshot() == after and world.journal.read_bytes() == journal_bytes

    undone = journal.undo(world.journal, result.run_id, services, roots=roots)
    assert undone.settled and undone.result is not None
    assert undone.result.counts == {"applied": 4, "skipped": 0, "failed": 0}
    assert world.snapshot() == before
    assert _states(world, result.run_id) == {"undone"}

    redone = journal.redo(world.journal, undone.result.run_id, services, roots=roots)
    assert redone.settled
    assert world.snapshot() == after
    assert _states(world, result.run_id) == {"redone"}

    # undo the redo (by naming the original run again), then replay the original run
    again = journal.undo(world.journal, result.run_id, services, roots=roots)
    assert again.settled and world.snapshot() == before
    replayed = journal.replay(world.journal, result.run_id, services, roots=roots)
    assert replayed.result is not None and replayed.result.counts["applied"] == 4
    assert world.snapshot() == after
    assert journal.verify(world.journal).ok


def test_undo_of_a_single_operation_leaves_the_others(world: World) -> None:
    result = world.execute(_ops_for_every_kind(world))
    insert_op = next(o for o in result.ops if o.label == "insert d")
    done = journal.undo(world.journal, insert_op.op_id, world.services(), roots=world.roots)
    assert done.settled
    assert world.row("d") is None
    assert world.row("c") is None  # the delete stays in effect
    assert (world.root / "archive" / "item-x.jsonl").exists()


def test_conflict_refuses_without_force_and_force_records_what_it_overrode(world: World) -> None:
    result = world.execute([PlannedOp("set n", (world.update("a", n=100),))])
    world.set_row("a", n=555)
    before, journal_bytes = world.snapshot(), world.journal.read_bytes()
    dry = journal.undo(world.journal, result.run_id, world.services(), roots=world.roots, apply=False)
    assert dry.refusal is not None and "555" in dry.refusal and "force=True" in dry.refusal  # the API's spelling
    with pytest.raises(ConflictRefused, match="555") as refused:  # it says what the row holds now
        journal.undo(world.journal, result.run_id, world.services(), roots=world.roots)
    assert refused.value.details["plan"]["conflicts"][0]["blocking"] is False
    assert world.snapshot() == before and world.journal.read_bytes() == journal_bytes
    forced = journal.undo(world.journal, result.run_id, world.services(), roots=world.roots, force=True)
    assert forced.settled and (world.row("a") or {})["n"] == 1
    assert forced.result is not None
    effect = journal.show(world.journal, forced.result.run_id).inspection.ops[0].effects[0].effect.to_json()
    assert effect["before"] == {"n": 555} and effect["after"] == {"n": 1}
    begin = next(orjson.loads(line) for line in world.journal.read_bytes().splitlines()
                 if forced.result.run_id.encode() in line and b'"run_begin"' in line)
    assert begin["meta"] == {"forced": True, "cascade": False} and begin["links"] == {"undoes": result.run_id}


def test_appended_lines_make_a_line_undo_conflict_and_force_keeps_them(world: World) -> None:
    doc = world.file("doc.jsonl", b'{"provider":"old"}\n{"turn":1}\n', mtime_ns=1_600_000_000_000_000_000)
    result = world.execute([PlannedOp("rewrite", (world.rewrite(doc, 1, b'{"provider":"new"}'),))])
    with open(doc, "ab") as handle:
        handle.write(b'{"turn":2}\n')
    with pytest.raises(ConflictRefused) as refused:
        journal.undo(world.journal, result.run_id, world.services(), roots=world.roots)
    assert [c["blocking"] for c in refused.value.details["plan"]["conflicts"]] == [False]  # forceable
    assert journal.undo(world.journal, result.run_id, world.services(), roots=world.roots, force=True).settled
    assert doc.read_bytes() == b'{"provider":"old"}\n{"turn":1}\n{"turn":2}\n'


def test_a_file_changed_inside_what_the_edit_wrote_blocks_undo_even_forced(world: World) -> None:
    doc = world.file("doc.jsonl", b'{"provider":"old"}\n{"turn":1}\n')
    result = world.execute([PlannedOp("rewrite", (world.rewrite(doc, 1, b'{"provider":"new"}'),))])
    doc.write_bytes(b'{"provider":"new"}\n{"turn":9}\n')  # not appended: a line this run did not write changed
    with pytest.raises(ConflictRefused, match="cannot be forced") as refused:
        journal.undo(world.journal, result.run_id, world.services(), roots=world.roots, force=True)
    assert [c["blocking"] for c in refused.value.details["plan"]["conflicts"]] == [True]
    assert doc.read_bytes() == b'{"provider":"new"}\n{"turn":9}\n'


def test_one_changed_row_of_a_rows_update_skips_the_operation_and_writes_no_row(world: World) -> None:
    now = {key: (world.row(key) or {})["n"] for key in ("a", "b")}
    effect = RowsUpdate(str(world.db), "items", {}, ("id",), ("n",),
                        (RowChange(("a",), (now["a"],), (10,)), RowChange(("b",), (now["b"],), (20,))))
    world.set_row("b", n=99)
    a_before = world.row("a")
    result = world.execute([PlannedOp("both", (effect,))])
    assert result.ops[0].status == "skipped" and "changed" in result.ops[0].reason
    assert world.row("a") == a_before and (world.row("b") or {})["n"] == 99


def test_move_never_overwrites_an_existing_destination(world: World) -> None:
    src = world.file("a.txt", b"mine")
    dst = world.file("b.txt", b"theirs")
    result = world.execute([PlannedOp("move", (world.move(src, dst), world.update("a", n=9)))])
    assert result.ops[0].status == "skipped"
    assert dst.read_bytes() == b"theirs" and src.read_bytes() == b"mine"
    assert (world.row("a") or {})["n"] == 1  # nothing of the op was applied


def test_a_target_changed_midway_rolls_the_operation_back(world: World) -> None:
    src = world.file("a.txt", b"content", mtime_ns=1_650_000_000_000_000_000)
    dst = world.root / "moved" / "a.txt"

    def sabotage(step: str) -> None:
        if step == "effect" and dst.exists():  # after the move, before the row update
            world.set_row("a", n=77)

    result = world.execute([PlannedOp("move then update", (world.move(src, dst), world.update("a", n=5)))],
                           on_step=sabotage)
    assert result.ops[0].status == "skipped"
    assert "rolled back" in result.ops[0].reason
    assert src.read_bytes() == b"content" and not dst.exists()
    assert src.stat().st_mtime_ns == 1_650_000_000_000_000_000
    assert (world.row("a") or {})["n"] == 77


def test_cascade_is_required_when_a_later_operation_touched_the_same_target(world: World) -> None:
    first = world.execute([PlannedOp("n=10", (world.update("a", n=10),))])
    second = world.execute([PlannedOp("n=20", (world.update("a", n=20),))])
    with pytest.raises(ConflictRefused, match="cascade=True") as refused:
        journal.undo(world.journal, first.ops[0].op_id, world.services(), roots=world.roots)
    assert refused.value.details["plan"]["cascade_needed"] == [second.ops[0].op_id]
    done = journal.undo(world.journal, first.ops[0].op_id, world.services(), roots=world.roots, cascade=True)
    assert done.result is not None
    assert [(o.action, o.label) for o in done.result.ops] == [("undo", "n=20"), ("undo", "n=10")]
    assert (world.row("a") or {})["n"] == 1
    # redoing the later one alone would skip over the undo of the earlier one: cascade again
    dry = journal.redo(world.journal, second.ops[0].op_id, world.services(), roots=world.roots, apply=False)
    assert dry.plan.cascade_needed == (done.result.ops[1].op_id,) and dry.refusal is not None
    redone = journal.redo(world.journal, second.ops[0].op_id, world.services(), roots=world.roots, cascade=True)
    assert redone.settled and (world.row("a") or {})["n"] == 20


def test_targets_outside_the_roots_are_refused_before_anything_is_written(world: World, tmp_path: Path) -> None:
    outside = world.root.parent / "elsewhere.txt"
    outside.write_bytes(b"x")
    result = world.execute([PlannedOp("escape", (world.move(outside, world.root / "in.txt"),))], roots=[tmp_path])
    roots = journal.Roots((str(world.root),), name="this world", hint="name the world it was made in")
    dry = journal.undo(world.journal, result.run_id, world.services(), roots=roots, apply=False)
    assert dry.refusal == (f"1 target(s) lie outside this world: {outside} is outside the allowed roots "
                           f"['{world.root}']; name the world it was made in")
    before, journal_bytes = world.snapshot(), world.journal.read_bytes()
    asked: list[int] = []

    def gate(ops: Sequence[PlannedOp]) -> dict[str, Any]:
        asked.append(len(ops))
        return {}

    with pytest.raises(OutsideAllowedRoots, match="lie outside this world"):
        journal.undo(world.journal, result.run_id, world.services(), roots=roots, gate=gate)
    assert asked == []  # refused before the gate was asked
    assert (world.root / "in.txt").exists() and world.snapshot() == before
    assert world.journal.read_bytes() == journal_bytes  # nothing recorded either


def test_a_plain_run_refuses_targets_outside_its_roots_whole(world: World, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_bytes(b"x")
    inside = world.update("a", n=5)
    with pytest.raises(OutsideAllowedRoots):
        world.execute([PlannedOp("fine", (inside,)), PlannedOp("escape", (world.move(outside, world.root / "i"),))])
    assert (world.row("a") or {})["n"] == 1 and outside.exists()
    assert not world.journal.exists()  # nothing written, not even the journal's first line


@pytest.mark.parametrize("action", ["undo", "redo", "replay"])
def test_unknown_id_is_not_found(world: World, action: journal.Action) -> None:
    world.execute([PlannedOp("one", (world.update("a", n=10),))])
    with pytest.raises(NotFound):
        journal.preview(world.journal, action, "ffffffff-0000", roots=world.roots)
    with pytest.raises(NotFound):
        journal.compensate(world.journal, action, "ffffffff-0000", world.services(), roots=world.roots)
    with pytest.raises(NotFound, match="nothing has been recorded yet"):
        journal.show(world.root / "nope.jsonl", "ffffffff")
