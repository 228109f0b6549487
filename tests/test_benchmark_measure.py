"""The benchmarks' measuring harness (benchmarks/measure.py) measures what it claims: the child's
peak memory, its output, its failure, and the floor's count of rollouts. No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks.measure import command, floor, run
from fixtures.generator import HomeSpec, build_home

ALLOCATE_MB = 96


def test_peak_is_the_childs_not_the_harness():
    touched = f"data = b'x' * ({ALLOCATE_MB} * 2**20); print(len(data))"
    big = run([sys.executable, "-c", touched])
    small = run([sys.executable, "-c", "print(1)"])
    assert big.peak_kb >= ALLOCATE_MB * 1024  # every page written, so resident
    assert small.peak_kb < big.peak_kb - ALLOCATE_MB * 1024 // 2  # a fresh watcher: no maximum carried over
    assert big.out_bytes == len(f"{ALLOCATE_MB * 2**20}\n")


def test_the_tool_runs_through_its_command_line():
    got = run(command("--version"))
    assert got.out_head.startswith(b"codex-sessions ")
    assert got.peak_kb > 0


def test_a_failing_command_stops_the_benchmark():
    with pytest.raises(SystemExit, match="exited 3"):
        run([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert run([sys.executable, "-c", "import sys; sys.exit(3)"], ok_codes=(3,)).peak_kb > 0


def test_floor_reads_every_rollout_once(tmp_path: Path):
    home = tmp_path / "home"
    build_home(home, HomeSpec(sessions=12, archived_share=0.25))
    on_disk = list(home.glob("sessions/**/rollout-*.jsonl")) + list(home.glob("archived_sessions/**/rollout-*.jsonl"))
    got = run(floor(home))
    assert int(got.out_head) == len(on_disk) >= 12


def test_timed_runs_are_not_sampled_and_best_of_samples_one_more():
    from benchmarks.measure import best_of

    argv = [sys.executable, "-c", "import time; data = b'x' * (32 * 2**20); time.sleep(0.3)"]
    assert run(argv, sample_tree=False).tree_kb == 0  # no sampler competing with what is timed
    assert run(argv, sample_tree=True).tree_kb >= 32 * 1024
    got, seconds = best_of(2, argv)
    assert len(seconds) == 2 and got.tree_kb >= 32 * 1024 and got.peak_kb >= 32 * 1024
