"""`log` and `show` through the API: newest first, filters, derived states, runs alone, labels
that do not pile up, a torn tail, the hash chain checked both ways."""

from __future__ import annotations

from typing import Any

import orjson

import journal
from journal import PlannedOp
from tests.journal.world import World


def _entries(world: World, **kw: Any) -> list[dict[str, Any]]:
    listing = journal.log(world.journal, **kw)
    entries = list(listing.entries)
    assert listing.recorded and listing.health().ok
    return entries


def test_log_lists_newest_first_with_states_and_filters(world: World) -> None:
    first = world.execute([PlannedOp("set a", (world.update("a", n=10),), subject="a"),
                           PlannedOp("set b", (world.update("b", n=20),), subject="b")])
    journal.undo(world.journal, first.ops[0].op_id, world.services(), roots=world.roots)
    entries = _entries(world)
    assert [(e["type"], e.get("action"), e.get("label") or e.get("command")) for e in entries] == [
        ("run", None, "undo"), ("op", "undo", "set a"), ("run", None, "test"), ("op", None, "set b"),
        ("op", None, "set a")]
    assert [e["state"] for e in entries if e["type"] == "op"] == ["in effect", "in effect", "undone"]
    assert entries[1]["compensates"] == first.ops[0].op_id

    only = _entries(world, target="items", limit=1)
    assert [(e.get("action"), e["label"]) for e in only if e["type"] == "op"] == [("undo", "set a")]
    by_run = _entries(world, run=first.run_id[:18].upper())  # any case
    assert [e.get("label") for e in by_run] == [None, "set b", "set a"]
    by_op = _entries(world, op=first.ops[1].op_id)
    assert [e["label"] for e in by_op] == ["set b"]


def test_labels_do_not_pile_up_and_the_chain_shows_through_the_links(world: World) -> None:
    """undo, redo, undo, redo: every operation keeps the first one's label; what it does to that
    first operation is its action, and what it acts on is its link."""
    applied = world.execute([PlannedOp("migrate item a", (world.update("a", n=10),), subject="a")])
    services, roots = world.services(), world.roots
    chain = [applied.ops[0].op_id]
    for action in ("undo", "redo", "undo", "redo"):
        done = journal.compensate(world.journal, action, chain[-1] if action == "undo" else applied.run_id,
                                  services, roots=roots)
        assert done.result is not None and done.settled
        chain.append(done.result.ops[0].op_id)
    ops = [e for e in _entries(world) if e["type"] == "op"]
    assert [(e.get("action"), e["label"]) for e in ops] == [
        ("redo", "migrate item a"), ("undo", "migrate item a"), ("redo", "migrate item a"),
        ("undo", "migrate item a"), (None, "migrate item a")]
    assert [e.get("origin") for e in ops] == [chain[0]] * 4 + [None]  # each names the first operation
    # the redo of the run compensates the undo still in effect (the first); the second undo, the first redo
    assert [e.get("compensates") for e in ops] == [chain[1], chain[2], chain[1], chain[0], None]
    assert (world.row("a") or {})["n"] == 10
    shown = journal.show(world.journal, chain[-1]).inspection.ops[0].info
    assert shown.title == "redo of migrate item a" and shown.compensates == chain[1]
    # undoing an undo is a redo of the first operation, whatever the command was called
    back = journal.undo(world.journal, chain[-1], services, roots=roots)
    assert back.result is not None and back.result.ops[0].action == "undo"
    again = journal.undo(world.journal, back.result.ops[0].op_id, services, roots=roots)
    assert again.result is not None and [(o.action, o.label) for o in again.result.ops] == [
        ("redo", "migrate item a")]


def test_log_runs_lists_one_line_per_run_with_what_it_undoes_and_limit_counts_runs(world: World) -> None:
    big = world.execute([PlannedOp(f"set {k}", (world.update(k, n=50 + i),)) for i, k in enumerate("abc")])
    small = world.execute([PlannedOp("rename a", (world.update("a", name="A"),))])
    undone = journal.undo(world.journal, small.run_id, world.services(), roots=world.roots)
    assert undone.result is not None
    runs = _entries(world, runs=True)
    assert [(r["run"], r["command"], r["status"]) for r in runs] == [
        (undone.result.run_id, "undo", "ok"), (small.run_id, "test", "ok"), (big.run_id, "test", "ok")]
    assert all(r["type"] == "run" for r in runs)
    assert runs[0]["links"] == {"undoes": small.run_id} and runs[1]["links"] == {} == runs[2]["links"]
    assert runs[2]["counts"] == {"applied": 3, "skipped": 0, "failed": 0}
    assert runs[0]["ts"] < runs[0]["ended"]
    # --limit counts runs here, so one big run never fills it
    assert [r["run"] for r in _entries(world, runs=True, limit=2)] == [undone.result.run_id, small.run_id]
    assert [r["run"] for r in _entries(world, runs=True, run=big.run_id[:20])] == [big.run_id]
    assert len([e for e in _entries(world, limit=2) if e["type"] == "op"]) == 2  # operations, without runs


def test_an_interrupted_run_is_listed_as_such(world: World) -> None:
    world.execute([PlannedOp("set a", (world.update("a", n=10),))])
    lines = world.journal.read_bytes().splitlines()
    begin = orjson.loads(lines[1])
    assert begin["kind"] == "run_begin"
    world.journal.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # the run_end never written
    [run] = journal.log(world.journal, runs=True).entries
    assert (run["run"], run["status"], run["ended"], run["counts"]) == (begin["run"], "interrupted", None, {})


def test_log_skips_a_torn_tail(world: World) -> None:
    world.execute([PlannedOp("set a", (world.update("a", n=10),))])
    world.journal.write_bytes(world.journal.read_bytes() + b'{"kind":"intent","op"')
    assert [e.get("label") for e in _entries(world)] == [None, "set a"]


def test_show_gives_every_effect_with_before_after_and_current_state(world: World) -> None:
    run = world.execute([PlannedOp("set a", (world.update("a", n=10, name="A"),))])
    shown = journal.show(world.journal, run.ops[0].op_id[:20])
    assert shown.damage is None and shown.run is None and shown.inspection.kind == "op"
    [op] = shown.inspection.ops
    effect = op.effects[0].to_json(op.state)
    assert effect["before"] == {"n": 1, "name": "alpha"} and effect["after"] == {"n": 10, "name": "A"}
    assert effect["now"] == "after" and effect["op_state"] == "in effect"
    whole = journal.show(world.journal, run.run_id)
    assert whole.run is not None and whole.run.command == "test" and whole.run.status == "ok"
    assert [line.strip() for line in whole.inspection.ops[0].effects[0].effect.render()][1:] == [
        "n: 1 -> 10", "name: 'alpha' -> 'A'"]


def test_a_journal_not_written_yet_lists_and_verifies_as_empty(world: World) -> None:
    missing = world.root / "nope.jsonl"
    listing = journal.log(missing)
    assert not listing.recorded and list(listing.entries) == [] and listing.health().ok
    checked = journal.verify(missing)
    assert checked.ok and not checked.recorded
    assert not journal.recover(missing, world.services(), roots=world.roots).recorded
