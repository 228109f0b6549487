"""Every effect kind: apply, undo, redo, replay, conflict refusal and cascade, on real files and SQLite."""

from __future__ import annotations

import os
import sqlite3

import pytest

from journal.runner import PlannedOp
from tests.helpers import World, cli, cli_json

J = "--journal"


def _ops_for_every_kind(world: World) -> list[PlannedOp]:
    src = world.file("sessions/2026/01/02/rollout-x.jsonl", b'{"a":1}\n{"b":2}\n')
    doc = world.file("doc.jsonl", b'{"provider":"old"}\n{"turn":1}\n{"turn":2}\n', mtime_ns=1_600_000_000_123_456_789)
    return [
        PlannedOp("move x", (world.move(src, world.root / "archived_sessions" / "rollout-x.jsonl", 1_800 * 10**15),
                             world.update("a", name="moved", n=None)), subject="x"),
        PlannedOp("rewrite doc", (world.rewrite(doc, 1, b'{"provider":"brand-new"}'),), subject="doc"),
        PlannedOp("insert d", (world.insert("d", name="delta", n=4, data=b"\xff"),), subject="d"),
        PlannedOp("delete c", (world.delete("c"),), subject="c"),
    ]


def test_apply_then_undo_restores_every_byte_row_and_mtime_then_redo_and_replay(world: World) -> None:
    ops = _ops_for_every_kind(world)
    before = world.snapshot()
    result = world.execute(ops)
    assert result.status == "ok" and result.counts == {"applied": 4, "skipped": 0, "failed": 0}
    after = world.snapshot()
    assert after != before
    assert (world.root / "archived_sessions" / "rollout-x.jsonl").stat().st_mtime_ns == 1_800_000_000_000_000_000
    doc = world.root / "doc.jsonl"
    assert doc.read_bytes() == b'{"provider":"brand-new"}\n{"turn":1}\n{"turn":2}\n'
    assert doc.stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert world.row("d") == {"id": "d", "name": "delta", "n": 4, "data": b"\xff"}
    assert world.row("c") is None

    # dry run changes nothing and says what it would do
    code, dry = cli_json("undo", result.run_id, J, str(world.journal))
    assert code == 0 and dry["data"]["dry_run"] is True and dry["data"]["would_refuse"] is None
    assert [(o["action"], o["label"]) for o in dry["data"]["plan"]["operations"]] == [
        ("undo", "delete c"), ("undo", "insert d"), ("undo", "rewrite doc"), ("undo", "move x")]
    assert world.snapshot() == after

    code, undone = cli_json("undo", result.run_id, "--apply", J, str(world.journal))
    assert code == 0, undone
    assert undone["data"]["counts"] == {"applied": 4, "skipped": 0, "failed": 0}
    assert world.snapshot() == before

    code, shown = cli_json("show", result.run_id, J, str(world.journal))
    assert code == 0
    assert {o["state"] for o in shown["data"]["operations"]} == {"undone"}

    code, redone = cli_json("redo", undone["data"]["run"], "--apply", J, str(world.journal))
    assert code == 0, redone
    assert world.snapshot() == after
    code, shown = cli_json("show", result.run_id, J, str(world.journal))
    assert {o["state"] for o in shown["data"]["operations"]} == {"redone"}

    # undo the redo (by naming the original run again), then replay the original run
    code, again = cli_json("undo", result.run_id, "--apply", J, str(world.journal))
    assert code == 0, again
    assert world.snapshot() == before
    code, replayed = cli_json("replay", result.run_id, "--apply", J, str(world.journal))
    assert code == 0, replayed
    assert replayed["data"]["counts"]["applied"] == 4
    assert world.snapshot() == after
    assert cli("verify", J, str(world.journal)).exit_code == 0


def test_undo_of_a_single_operation_leaves_the_others(world: World) -> None:
    result = world.execute(_ops_for_every_kind(world))
    insert_op = next(o for o in result.ops if o.label == "insert d")
    code, data = cli_json("undo", insert_op.op_id, "--apply", J, str(world.journal))
    assert code == 0, data
    assert world.row("d") is None
    assert world.row("c") is None  # the delete stays in effect
    assert (world.root / "archived_sessions" / "rollout-x.jsonl").exists()


def test_conflict_refuses_without_force_and_force_records_what_it_overrode(world: World) -> None:
    result = world.execute([PlannedOp("set n", (world.update("a", n=100),))])
    conn = sqlite3.connect(world.db)
    conn.execute("UPDATE items SET n = 555 WHERE id = 'a'")
    conn.commit()
    conn.close()
    before = world.snapshot()
    code, refused = cli_json("undo", result.run_id, "--apply", J, str(world.journal))
    assert code == 3 and refused["errors"][0]["code"] == "conflict"
    assert "555" in refused["errors"][0]["message"]  # it says what the row holds now
    assert world.snapshot() == before
    code, forced = cli_json("undo", result.run_id, "--apply", "--force", J, str(world.journal))
    assert code == 0, forced
    assert world.row("a")["n"] == 1  # type: ignore[index]
    code, shown = cli_json("show", forced["data"]["run"], J, str(world.journal))
    effect = shown["data"]["operations"][0]["effects"][0]
    assert effect["before"] == {"n": 555} and effect["after"] == {"n": 1}


def test_appended_lines_make_a_line_undo_conflict_and_force_keeps_them(world: World) -> None:
    doc = world.file("doc.jsonl", b'{"provider":"old"}\n{"turn":1}\n', mtime_ns=1_600_000_000_000_000_000)
    result = world.execute([PlannedOp("rewrite", (world.rewrite(doc, 1, b'{"provider":"new"}'),))])
    with open(doc, "ab") as handle:
        handle.write(b'{"turn":2}\n')
    code, refused = cli_json("undo", result.run_id, "--apply", J, str(world.journal))
    assert code == 3 and refused["errors"][0]["code"] == "conflict"
    assert [c["blocking"] for c in refused["errors"][0]["plan"]["conflicts"]] == [False]  # forceable
    assert cli("undo", result.run_id, "--apply", "--force", J, str(world.journal)).exit_code == 0
    assert doc.read_bytes() == b'{"provider":"old"}\n{"turn":1}\n{"turn":2}\n'


def test_a_file_changed_inside_what_the_edit_wrote_blocks_undo_even_forced(world: World) -> None:
    doc = world.file("doc.jsonl", b'{"provider":"old"}\n{"turn":1}\n')
    result = world.execute([PlannedOp("rewrite", (world.rewrite(doc, 1, b'{"provider":"new"}'),))])
    doc.write_bytes(b'{"provider":"new"}\n{"turn":9}\n')  # not appended: a line this run did not write changed
    code, forced = cli_json("undo", result.run_id, "--apply", "--force", J, str(world.journal))
    assert code == 3 and forced["errors"][0]["code"] == "conflict"
    assert [c["blocking"] for c in forced["errors"][0]["plan"]["conflicts"]] == [True]
    assert doc.read_bytes() == b'{"provider":"new"}\n{"turn":9}\n'


def test_one_changed_row_of_a_rows_update_skips_the_operation_and_writes_no_row(world: World) -> None:
    from journal.effects import RowChange, RowsUpdate

    now = {key: (world.row(key) or {})["n"] for key in ("a", "b")}
    effect = RowsUpdate(str(world.db), "items", {}, ("id",), ("n",),
                        (RowChange(("a",), (now["a"],), (10,)), RowChange(("b",), (now["b"],), (20,))))
    conn = sqlite3.connect(world.db)
    conn.execute("UPDATE items SET n = 99 WHERE id = 'b'")
    conn.commit()
    conn.close()
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
    assert world.row("a")["n"] == 1  # type: ignore[index]  # nothing of the op was applied


def test_a_target_changed_midway_rolls_the_operation_back(world: World) -> None:
    src = world.file("a.txt", b"content", mtime_ns=1_650_000_000_000_000_000)
    dst = world.root / "moved" / "a.txt"

    def sabotage(step: str) -> None:
        if step == "effect" and dst.exists():  # after the move, before the row update
            conn = sqlite3.connect(world.db)
            conn.execute("UPDATE items SET n = 77 WHERE id = 'a'")
            conn.commit()
            conn.close()

    result = world.execute([PlannedOp("move then update", (world.move(src, dst), world.update("a", n=5)))],
                           on_step=sabotage)
    assert result.ops[0].status == "skipped"
    assert "rolled back" in result.ops[0].reason
    assert src.read_bytes() == b"content" and not dst.exists()
    assert src.stat().st_mtime_ns == 1_650_000_000_000_000_000
    assert world.row("a")["n"] == 77  # type: ignore[index]


def test_cascade_is_required_when_a_later_operation_touched_the_same_target(world: World) -> None:
    first = world.execute([PlannedOp("n=10", (world.update("a", n=10),))])
    second = world.execute([PlannedOp("n=20", (world.update("a", n=20),))])
    code, refused = cli_json("undo", first.ops[0].op_id, "--apply", J, str(world.journal))
    assert code == 3 and refused["errors"][0]["code"] == "conflict"
    assert refused["errors"][0]["plan"]["cascade_needed"] == [second.ops[0].op_id]
    code, data = cli_json("undo", first.ops[0].op_id, "--apply", "--cascade", J, str(world.journal))
    assert code == 0, data
    assert [(o["action"], o["label"]) for o in data["data"]["operations"]] == [("undo", "n=20"), ("undo", "n=10")]
    assert world.row("a")["n"] == 1  # type: ignore[index]
    # redoing the later one alone would skip over the undo of the earlier one: cascade again
    code, redo = cli_json("redo", second.ops[0].op_id, J, str(world.journal))
    undo_of_first = data["data"]["operations"][1]["op_id"]
    assert code == 0 and redo["data"]["plan"]["cascade_needed"] == [undo_of_first]
    code, redone = cli_json("redo", second.ops[0].op_id, "--apply", "--cascade", J, str(world.journal))
    assert code == 0, redone
    assert world.row("a")["n"] == 20  # type: ignore[index]


def test_guard_refuses_effects_outside_the_codex_home(world: World, tmp_path: os.PathLike[str]) -> None:
    outside = world.root.parent / "elsewhere.txt"
    outside.write_bytes(b"x")
    # made where writes to its parent were allowed (another home's journal, say)
    result = world.execute([PlannedOp("escape", (world.move(outside, world.root / "in.txt"),))], roots=[tmp_path])
    code, dry = cli_json("undo", result.run_id, J, str(world.journal))  # the dry run predicts the refusal
    assert code == 0 and "outside the allowed roots" in dry["data"]["would_refuse"], dry
    before = world.snapshot()
    journal = world.journal.read_bytes()
    code, data = cli_json("undo", result.run_id, "--apply", J, str(world.journal))
    assert code == 3 and data["errors"][0]["code"] == "outside_home", data
    assert "outside the allowed roots" in data["errors"][0]["message"]
    assert (world.root / "in.txt").exists() and world.snapshot() == before
    assert world.journal.read_bytes() == journal  # nothing recorded either


@pytest.mark.parametrize("command", ["undo", "redo", "show"])
def test_unknown_id_is_a_usage_error(world: World, command: str) -> None:
    world.execute([PlannedOp("one", (world.update("a", n=10),))])
    code, result = cli_json(command, "ffffffff-0000", J, str(world.journal))
    assert code == 2 and result["errors"][0]["code"] == "not_found"


def test_undo_backs_up_each_database_it_writes_as_run_does(world: World) -> None:
    applied = world.execute([PlannedOp("n=10", (world.update("a", n=10),)), PlannedOp("move", (world.move(
        world.file("x.txt", b"x"), world.root / "y.txt"),))])
    code, undone = cli_json("undo", applied.run_id, "--apply", J, str(world.journal))
    assert code == 0, undone
    backups = undone["data"]["backups"]
    assert [b["db"] for b in backups] == [str(world.db)]  # the database the undo writes, and no file
    copy = sqlite3.connect(backups[0]["path"])
    try:  # taken before the undo wrote: the value the run had set
        assert copy.execute("SELECT n FROM items WHERE id = 'a'").fetchone() == (10,)
    finally:
        copy.close()
    assert os.path.dirname(backups[0]["path"]) == str(world.journal.parent / "backups")
    code, shown = cli_json("show", undone["data"]["run"], J, str(world.journal))
    assert code == 0 and shown["data"]["run"]["meta"]["backups"] == backups
    code, dry = cli_json("redo", undone["data"]["run"], J, str(world.journal))  # a dry run takes none
    assert code == 0 and len(os.listdir(world.journal.parent / "backups")) == 1


def test_every_kind_names_the_same_targets_from_its_stored_form_as_when_built(tmp_path: os.PathLike[str]) -> None:
    """`log` reads targets from stored effects without building them (`json_targets`); each kind
    says how (`targets_in_json`), and must agree with `targets()` of the built effect."""
    from pathlib import Path

    import orjson

    from fixtures.generator import HomeSpec, build_home
    from journal.effects import REGISTRY, effect_from_json, json_targets
    from tests.codexhome import run, undo

    built = build_home(Path(tmp_path) / "home", HomeSpec(version="0.171.0", sessions=8, seed=5, archived_share=0.3,
                                                          damage={"orphan": 1, "moved_file": 1}))
    for operation in ("repair-paths", "import-orphans", "migrate-provider", "unarchive"):
        code, applied = run(built.root, operation, "--apply")
        assert code == 0, applied
    code, _ = undo(built.root, applied["data"]["run"])
    assert code == 0
    seen: set[str] = set()
    journal = built.root / "codex-sessions" / "journal.jsonl"
    for line in journal.read_bytes().splitlines():
        record = orjson.loads(line)
        for effect in record.get("effects", []) if record.get("kind") == "intent" else []:
            seen.add(effect["kind"])
            assert json_targets(effect) == list(effect_from_json(effect).targets()), effect
    assert {"file_move", "file_edit", "rows_update", "row_update", "row_insert"} <= seen, seen
    assert json_targets({"kind": "no_such_kind"}) == [] and "no_such_kind" not in REGISTRY
