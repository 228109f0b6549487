"""The caller's gate inside the engine's sequence, and recovery, through the API: the gate is
asked once, under the lock, with the operations about to run, and what it returns is recorded
with the run; a gate that refuses leaves the journal and every target as they were."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

import journal
from journal import PlannedOp, Refused
from tests.journal.world import World


class Asked:
    """A gate that records what it was asked and, when told to, refuses as a caller's check would."""

    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.refuse = refuse

    def __call__(self, ops: Sequence[PlannedOp]) -> Mapping[str, Any]:
        self.calls.append([op.title for op in ops])
        if self.refuse:
            raise Refused("the caller's program is running")
        return {"checked": len(ops)}


def test_the_gate_is_asked_once_with_the_plan_and_its_answer_is_recorded(world: World) -> None:
    applied = world.execute([PlannedOp("set a", (world.update("a", n=10),)),
                             PlannedOp("set b", (world.update("b", n=20),))])
    gate = Asked()
    done = journal.undo(world.journal, applied.run_id, world.services(), roots=world.roots, gate=gate)
    assert gate.calls == [["undo of set b", "undo of set a"]]
    assert done.meta == {"checked": 2} and done.result is not None
    run = journal.open_reader(world.journal).runs[done.result.run_id]
    assert run.meta == {"forced": False, "cascade": False, "checked": 2} and run.links == {"undoes": applied.run_id}
    assert (world.row("a") or {})["n"] == 1 and (world.row("b") or {})["n"] == 2


def test_a_refusing_gate_writes_nothing(world: World) -> None:
    applied = world.execute([PlannedOp("set a", (world.update("a", n=10),))])
    before, recorded = world.snapshot(), world.journal.read_bytes()
    gate = Asked(refuse=True)
    with pytest.raises(Refused, match="program is running"):
        journal.undo(world.journal, applied.run_id, world.services(), roots=world.roots, gate=gate)
    assert len(gate.calls) == 1
    assert world.snapshot() == before and world.journal.read_bytes() == recorded
    dry = journal.undo(world.journal, applied.run_id, world.services(), roots=world.roots, gate=gate, apply=False)
    assert len(gate.calls) == 1 and dry.refusal is None and dry.result is None  # a dry run asks no gate


def test_a_plain_run_records_what_its_gate_returned(world: World) -> None:
    gate = Asked()
    result = world.execute([PlannedOp("set a", (world.update("a", n=10),))], gate=gate)
    assert gate.calls == [["set a"]]
    assert journal.open_reader(world.journal).runs[result.run_id].meta == {"checked": 1}


def _lose_the_outcome(world: World) -> None:
    """The journal as a crash after the operation's intent leaves it: the lines after it are gone."""
    lines = world.journal.read_bytes().splitlines(keepends=True)
    intent = next(n for n, line in enumerate(lines) if b'"kind":"intent"' in line)
    world.journal.write_bytes(b"".join(lines[: intent + 1]))


def test_recover_judges_what_a_crash_left_by_the_targets_and_asks_the_gate(world: World) -> None:
    world.execute([PlannedOp("set a", (world.update("a", n=10),))])
    _lose_the_outcome(world)
    services = world.services()
    with pytest.raises(journal.PendingRecovery):  # nothing else is written before it is settled
        world.execute([PlannedOp("set b", (world.update("b", n=20),))], services)
    seen = journal.recover(world.journal, services, roots=world.roots)
    assert [(i.label, i.verdict) for i in seen.items] == [("set a", "applied")] and seen.run_id is None
    assert len(seen.open_runs) == 1
    gate = Asked()
    settled = journal.recover(world.journal, services, roots=world.roots, apply=True, gate=gate)
    assert gate.calls == [["set a"]] and settled.run_id is not None and settled.meta == {"checked": 1}
    assert journal.verify(world.journal).ok
    assert [e["state"] for e in journal.log(world.journal).entries if e["type"] == "op"] == ["in effect"]
    again = journal.recover(world.journal, services, roots=world.roots, apply=True, gate=gate)
    assert again.items == () and again.open_runs == () and len(gate.calls) == 1  # nothing left: no gate


def test_recover_refuses_pending_targets_outside_its_roots(world: World, tmp_path: Any) -> None:
    world.execute([PlannedOp("set a", (world.update("a", n=10),))])
    _lose_the_outcome(world)
    elsewhere = journal.Roots((str(tmp_path / "elsewhere"),), name="the other place")
    seen = journal.recover(world.journal, world.services(), roots=elsewhere)
    assert seen.refusal is not None and "outside the other place" in seen.refusal
    with pytest.raises(journal.OutsideAllowedRoots):
        journal.recover(world.journal, world.services(), roots=elsewhere, apply=True)
    assert not journal.verify(world.journal).ok  # still pending: nothing was settled
