"""Kill a writer at every step of a run with `zstd_edit` effects (and of its undo), including
between keeping the original bytes and replacing the file: `recover --apply` settles every
operation whole, and the undo still gives the exact original bytes back.

Run as a child: python -m tests.test_zstd_crash ROOT MODE N (MODE apply or undo; dies at step N).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from journal.effects import plan_zstd_edit
from journal.fileio import sha256_hex
from journal.index import JournalIndex
from journal.planner import plan_undo
from journal.runner import PlannedOp, execute_run
from journal.store import JournalWriter
from journal.zstdio import decompress
from tests.helpers import World, cli_json, fixed_services, make_world

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.crash
NAMES = ("rollout-a.jsonl.zst", "rollout-b.jsonl.zst", "rollout-c.jsonl.zst")


def _seed(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    for n, name in enumerate(NAMES):
        plain = b'{"provider":"old","n":%d}\n{"turn":1}\n{"settings":"old"}\n' % n
        world.file(f"sessions/2026/01/02/{name}", zstandard.ZstdCompressor(level=19).compress(plain),
                   mtime_ns=1_650_000_000_000_000_000 + n)
    return world


def _world(root: Path) -> World:
    return World(root, root / "state.sqlite", root / "codex-sessions" / "journal.jsonl")


def _ops(world: World) -> list[PlannedOp]:
    ops = []
    for n, name in enumerate(NAMES):
        path = world.root / "sessions" / "2026" / "01" / "02" / name
        raw = path.read_bytes()
        kept = str(world.root / "codex-sessions" / "staging" / "originals" / sha256_hex(raw))
        new_lines = {1: b'{"provider":"new-provider","n":%d}' % n, 3: b'{"settings":"new-provider"}'}
        edit = plan_zstd_edit(str(path), new_lines, decompress(raw, 1 << 20), len(raw), sha256_hex(raw), kept)
        ops.append(PlannedOp(f"migrate {name}", (edit, world.update("abc"[n], name="migrated")), subject=name))
    return ops


def _child(root: Path, mode: str, kill_at: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "tests.test_zstd_crash", str(root), mode, str(kill_at)],
                          env=env, cwd=REPO, check=False).returncode


def _files(world: World) -> dict[str, bytes]:
    folder = world.root / "sessions" / "2026" / "01" / "02"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("mode", ["apply", "undo"])
def test_kill_at_every_step_of_compressed_edits_then_recover(tmp_path: Path, mode: str) -> None:
    kill_points, verdicts, kept_step_killed = 0, set(), False
    originals = _files(_seed(tmp_path / "originals"))
    for kill_at in range(1, 200):
        world = _seed(tmp_path / f"{mode}-{kill_at}")
        if mode == "undo":
            world.execute(_ops(world))
        code = _child(world.root, mode, kill_at)
        if code == 0:
            break
        assert code == 137
        kill_points += 1
        kept_step_killed |= (world.root / "killed-after-keep").exists()
        rec_code, rec = cli_json("recover", "--apply", "--codex-home", str(world.root), "--journal", str(world.journal))
        assert rec_code == 0, rec
        verdicts.update(i["verdict"] for i in rec["data"]["operations"])
        index = JournalIndex.load(str(world.journal))
        for op_id, info in index.ops.items():
            assert info.outcome in ("applied", "not_applied"), (info.label, info.outcome)
            if info.compensates:
                continue
            states = {e.probe().state for e in index.effects(op_id)}
            assert states == ({"after"} if index.in_effect(op_id) else {"before"}), (info.label, states)
        assert not list(world.root.rglob("*.journal-tmp"))
        # whatever was interrupted, undoing what stays in effect of the first run gives the exact original bytes
        first = next(iter(index.runs))
        if any(index.in_effect(o) for o in index.runs[first].op_ids):
            undo_code, undone = cli_json("undo", first, "--apply", "--journal", str(world.journal),
                                         "--codex-home", str(world.root))
            assert undo_code == 0, undone
        assert _files(world) == originals
    else:
        pytest.fail("the child never finished")
    assert kill_points >= 10, kill_points
    assert kept_step_killed == (mode == "apply")  # an undo keeps nothing: it puts the kept bytes back
    assert {"applied", "not_applied"} <= verdicts, verdicts


def main() -> None:
    root, mode, kill_at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    world = _world(root)
    count = 0

    def hook(step: str) -> None:
        nonlocal count
        count += 1
        if count == kill_at:
            if step == "zstd-kept":
                (root / "killed-after-keep").touch()
            os._exit(137)

    with JournalWriter(str(world.journal), fixed_services()) as writer:
        if mode == "apply":
            execute_run(writer, "test", _ops(world), on_step=hook, batch_size=2)
        else:
            index = JournalIndex.load(str(world.journal))
            execute_run(writer, "undo", plan_undo(index, next(iter(index.runs))).ops, on_step=hook, batch_size=2)
    sys.exit(0)


if __name__ == "__main__":
    main()
