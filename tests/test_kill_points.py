"""Kill a writer (SIGKILL) at every write, fsync, rename and commit of the commands whose
batches hold several operations on one file, or whose operations move and rewrite files: `fix
--unarchive` (a migration edits an archived rollout, then unarchiving moves it), `import` and
`merge` (staged files moved in, rows inserted), `undo` of an undo; and in the engine alone, one
batch where an operation moves a file and the next edits it. After each: `recover --apply`
settles everything, writes go on, and the home is at its before or its after state, byte for
byte. (The redo of an undone `fix --unarchive` is in test_recover_sequence.py.)"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from journal.index import JournalIndex
from journal.runner import PlannedOp, execute_run
from journal.store import JournalWriter
from tests.faultpoints import counting, killed_at, settle_and_check
from tests.helpers import World, cli, cli_json, fixed_services
from tests.scenarios import scenario as make_scenario

pytestmark = pytest.mark.crash


@pytest.mark.parametrize("command", ["fix-unarchive", "import", "merge", "undo-undo"])
def test_killed_at_every_point_then_recovered(tmp_path: Path, command: str) -> None:
    scenario = make_scenario(tmp_path, command)
    for number in range(1, len(scenario.points) + 1):
        scenario.restore()
        assert killed_at(number, lambda: cli(*scenario.args)) == -signal.SIGKILL
        settle_and_check(scenario, f"{command} killed at point {number} ({scenario.points[number - 1][0]})",
                         finish=False)
    print(f"{command}: {len(scenario.points)} kill points")


def _two_on_one_file(world: World) -> list[PlannedOp]:
    """One batch: move a file, then edit it where it now is, then change the row the move touched."""
    a = world.root / "sessions" / "rollout-a.jsonl"
    b = world.root / "archived" / "rollout-a.jsonl"
    moved = world.move(a, b)
    edit = world.rewrites(a, {1: b'{"id":"a","provider":"new"}'})[0]
    return [
        PlannedOp("move a", (moved, world.update("a", name="archived")), subject="a"),
        PlannedOp("edit a", (type(edit)(str(b), edit.size_before, edit.sha256_before, edit.size_after,
                                        edit.sha256_after, edit.splices), world.update("a", n=10)), subject="a"),
        PlannedOp("touch b", (world.update("b", n=20),), subject="b"),
    ]


def _take_back(world: World, at: list[str]) -> None:
    if not world.journal.exists():
        return
    index = JournalIndex.load(str(world.journal))
    for run in index.runs:  # the runs under test, not the undos that took them back
        if index.runs[run].command == "test" and any(index.in_effect(o) for o in index.runs[run].op_ids):
            code, undone = cli_json("undo", run, "--apply", *at)
            assert code == 0, undone


def test_a_batch_that_moves_a_file_and_then_edits_it_killed_at_every_point(world: World) -> None:
    world.file("sessions/rollout-a.jsonl", b'{"id":"a"}\n{"turn":1}\n', mtime_ns=1_650_000_000_111_000_000)
    before = world.snapshot()

    def run() -> None:
        with JournalWriter(str(world.journal), fixed_services()) as writer:
            execute_run(writer, "test", _two_on_one_file(world), batch_size=8)

    seen: list[tuple[str, str]] = []
    with counting(seen):
        run()
    after = world.snapshot()
    points = len(seen)
    at = ["--journal", str(world.journal), "--codex-home", str(world.root)]
    for number in range(1, points + 1):
        _take_back(world, at)
        world.journal.unlink()
        assert world.snapshot() == before
        assert killed_at(number, run) == -signal.SIGKILL
        code, recovered = cli_json("recover", "--apply", *at)
        assert code == 0 and not recovered["data"]["foreign"], (number, recovered)
        index = JournalIndex.load(str(world.journal))
        done = {index.ops[o].label: index.in_effect(o) for o in index.ops}
        # judged alone, the edit would have found its file gone; in sequence each operation is whole
        assert not done.get("edit a") or done["move a"], (number, done)
        if len(done) == 3 and all(done.values()):
            assert world.snapshot() == after, number
        _take_back(world, at)
        assert world.snapshot() == before, number  # what stood was exactly the after values, and is undone
    print(f"move then edit in one batch: {points} kill points")
