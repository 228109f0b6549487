"""Kill a writer at every step boundary; `recover --apply` must leave every operation whole."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from journal.index import JournalIndex
from journal.scan import scan
from tests.crash_child import planned_ops, world_at
from tests.helpers import World, cli, cli_json, make_world

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.crash


def _seed(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    world.file("sessions/2026/01/02/rollout-a.jsonl", b'{"id":"a"}\n{"turn":1}\n', mtime_ns=1_650_000_000_111_000_000)
    world.file("doc.jsonl", b'{"provider":"old"}\n{"turn":1}\n{"settings":"old"}\n{"turn":2}\n',
               mtime_ns=1_650_000_000_222_000_000)
    return world


def _child(root: Path, mode: str, kill_at: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "tests.crash_child", str(root), mode, str(kill_at)],
                          env=env, cwd=REPO, check=False).returncode


def _file_contents(world: World) -> Counter[str]:
    return Counter(sha for sha, _ in world.snapshot()["files"].values())


def _assert_whole(world: World) -> dict[str, str]:
    """Every operation is fully at after (applied) or fully at before (not applied)."""
    index = JournalIndex.load(str(world.journal))
    verdicts = {}
    for op_id, info in index.ops.items():
        assert info.outcome in ("applied", "not_applied", "skipped"), (op_id, info.outcome)
        states = {e.probe().state for e in index.effects(op_id)}
        if index.in_effect(op_id):
            expected = {"after"}
        elif info.outcome == "applied":
            expected = {"before"}  # applied and then undone by its compensation
        else:
            expected = {"before"}
        if info.compensates:
            continue  # judged through the operation it compensates
        assert states == expected, (info.label, info.outcome, states)
        verdicts[info.label] = "in effect" if index.in_effect(op_id) else "not in effect"
    return verdicts


@pytest.mark.parametrize("mode", ["apply", "undo"])
def test_kill_at_every_step_then_recover(tmp_path: Path, mode: str) -> None:
    kill_points = 0
    outcomes: Counter[str] = Counter()
    for kill_at in range(1, 200):
        case = tmp_path / f"{mode}-{kill_at}"
        world = _seed(case)
        if mode == "undo":
            world.execute(planned_ops(world_at(world.root)))
        contents_before = _file_contents(world)
        files_before = len(world.snapshot()["files"])
        code = _child(world.root, mode, kill_at)
        if code == 0:
            break
        assert code == 137
        kill_points += 1
        # writes wait for recovery when operations are pending; else the made-up id is simply unknown
        expected = (3, "pending_recovery") if scan(str(world.journal)).pending else (2, "not_found")
        code, refused = cli_json("undo", "0000", "--apply", "--journal", str(world.journal))
        assert (code, refused["errors"][0]["code"]) == expected, refused
        rec_code, rec = cli_json("recover", "--apply", "--codex-home", str(world.root), "--journal", str(world.journal))
        assert rec_code == 0, rec
        outcomes.update(i["verdict"] for i in rec["data"]["operations"])
        _assert_whole(world)
        assert len(world.snapshot()["files"]) == files_before, "a file was lost or duplicated"
        assert not list(world.root.rglob("*.journal-tmp"))
        if mode == "undo":
            assert sum(contents_before.values()) == sum(_file_contents(world).values())
        verify = cli("verify", "--journal", str(world.journal))
        assert verify.exit_code == 0, verify.stdout
        # and the journal keeps working: a further write succeeds
        second = cli("recover", "--apply", "--journal", str(world.journal), "--codex-home", str(world.root))
        assert second.exit_code == 0 and "nothing to recover" in second.stdout
    else:
        pytest.fail("the child never finished")
    # 3 operations with 7 effects: run_begin, 3 intents, 2 syncs, effects (+ the linked-move step), 3 outcomes
    assert kill_points >= 15, kill_points
    assert {"applied", "not_applied", "finish"} <= set(outcomes), outcomes
    print(f"{mode}: {kill_points} kill points, recovery verdicts {dict(outcomes)}")
