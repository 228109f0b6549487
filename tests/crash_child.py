"""Run a multi-operation run (or its undo) and die with os._exit at step number N.

Used by test_journal_crash.py: argv = ROOT MODE N, MODE in {apply, undo}.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from journal.index import JournalIndex
from journal.planner import plan_undo
from journal.runner import PlannedOp, execute_run
from journal.store import JournalWriter
from tests.helpers import World, fixed_services


def world_at(root: Path) -> World:
    return World(root, root / "state.sqlite", root / "codex-sessions" / "journal.jsonl")


def planned_ops(world: World) -> list[PlannedOp]:
    a = world.root / "sessions" / "2026" / "01" / "02" / "rollout-a.jsonl"
    doc = world.root / "doc.jsonl"
    return [
        PlannedOp("archive a", (world.move(a, world.root / "archived_sessions" / "rollout-a.jsonl"),
                                world.update("a", name="archived", n=100)), subject="a"),
        PlannedOp("rewrite doc and insert d", (*world.rewrites(doc, {1: b'{"provider":"new-provider"}',
                                                                     3: b'{"settings":"new-provider"}'}),
                                               world.insert("d", name="delta", n=4)), subject="doc"),
        PlannedOp("delete c, touch b", (world.delete("c"), world.update("b", n=None, name="bee")), subject="c"),
    ]


def main() -> None:
    root, mode, kill_at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    world = world_at(root)
    count = 0

    def hook(_step: str) -> None:
        nonlocal count
        count += 1
        if count == kill_at:
            os._exit(137)

    with JournalWriter(str(world.journal), fixed_services()) as writer:
        if mode == "apply":
            execute_run(writer, "test", planned_ops(world), on_step=hook, batch_size=2)
        else:
            index = JournalIndex.load(str(world.journal))
            first_run = next(iter(index.runs))
            plan = plan_undo(index, first_run)
            execute_run(writer, "undo", plan.ops, on_step=hook, batch_size=2)
    sys.exit(0)


if __name__ == "__main__":
    main()
