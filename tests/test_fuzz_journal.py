"""Property tests: journals handed over, mutated.

The journal is a real one, written by real runs of the tool on a generated home (a provider
migration, an archive, an undo and a redo). Each case mutates it: raw bytes (flipped, truncated,
lines reordered), or records, re-chained so the hash chain holds and only the tool's own checks
stand between the journal and the disk (a field retyped, a path or id replaced by a hostile name,
records reordered or dropped). Then some of log, verify, show, undo, redo, replay and recover run,
dry and with --apply.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.generator import HomeSpec, build_home
from operations import processes
from tests.fuzzing import (
    COUNTS,
    RETYPED,
    Sandbox,
    apply_byte_mutation,
    byte_mutation,
    checked,
    count,
    hostile_names,
    leaves,
    make_outside,
    rechain,
    replaced,
    unsynced,
)
from tests.helpers import cli_json

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="the victim folder holds a FIFO")
CASES = int(os.environ.get("FUZZ_CASES", 2000))


@pytest.fixture
def no_process_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What is fuzzed is the journal and the home; the process table is not (its probe has tests of
    its own), and reading every process's environment costs more than the rest of a command. The
    current folder is a scratch one, so a relative name in a journal can only mean the sandbox."""
    monkeypatch.setattr(processes, "codex_processes", lambda home: [])
    unsynced(monkeypatch)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")


def _template(root: Path) -> tuple[Sandbox, list[str], list[str]]:
    outside = make_outside(root)
    box = Sandbox(root, root / "template")
    home = box.home
    build_home(home, HomeSpec(version="0.171.0", sessions=5, providers=("openai", "azure"), archived_share=0.2,
                              exec_share=0.0, seed=31))
    (home / "sessions" / "link-out").symlink_to(outside, target_is_directory=True)
    h = ["--codex-home", str(home)]
    code, migrated = cli_json("run", "migrate-provider", "--to-provider", "openai", "--apply", *h)
    assert code == 0, migrated
    code, archived = cli_json("run", "archive", "--apply", *h)
    assert code == 0, archived
    first_op = archived["data"]["operations"][0]["op_id"]
    code, undone = cli_json("undo", first_op, "--apply", *h)
    assert code == 0, undone
    code, redone = cli_json("redo", undone["data"]["run"], "--apply", *h)
    assert code == 0, redone
    runs = [migrated["data"]["run"], archived["data"]["run"], undone["data"]["run"], redone["data"]["run"]]
    ops = [o["op_id"] for r in (migrated, archived) for o in r["data"]["operations"]]
    shutil.copytree(home, box.template, symlinks=True)
    return box, runs, ops


record_mutation = st.one_of(
    st.tuples(st.just("bytes"), byte_mutation),
    st.tuples(st.just("field"), st.integers(0, 10**6), st.integers(0, 10**6),
              st.one_of(st.tuples(st.just("retype"), st.integers(0, len(RETYPED) - 1)),
                        st.tuples(st.just("name"), st.integers(0, 10**3)))),
    st.tuples(st.just("swap"), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.tuples(st.just("drop"), st.integers(0, 10**6)),
)
COMMANDS = ("verify", "log", "show", "undo", "undo --apply", "undo --apply --force", "redo --apply",
            "replay --apply", "recover", "recover --apply", "fix --apply")


def mutate(journal: bytes, mutation: tuple[Any, ...], names: list[str]) -> bytes:
    kind = mutation[0]
    if kind == "bytes":
        return apply_byte_mutation(journal, mutation[1])
    records = [orjson.loads(line) for line in journal.splitlines()]
    if kind == "swap":
        i, j = mutation[1] % len(records), mutation[2] % len(records)
        records[i], records[j] = records[j], records[i]
    elif kind == "drop":
        del records[mutation[1] % len(records)]
    else:
        index = mutation[1] % len(records)
        paths = [p for p in leaves(records[index]) if p and p[0] not in ("seq", "prev")]
        path = paths[mutation[2] % len(paths)]
        how, which = mutation[3]
        new = RETYPED[which] if how == "retype" else names[which % len(names)]
        records[index] = replaced(records[index], path, new)
    return rechain(records)


def test_mutated_journals_never_crash_never_write_outside_and_refusals_change_nothing(
        tmp_path: Path, no_process_table: None) -> None:
    box, runs, ops = _template(tmp_path)
    names = hostile_names(box.home, box.outside) + runs + ops + [runs[0][:8], runs[0][:13]]
    journal = box.template / "codex-sessions" / "journal.jsonl"
    original = journal.read_bytes()
    bump = count("journals")

    @settings(max_examples=CASES)
    @given(mutation=record_mutation, commands=st.lists(st.sampled_from(COMMANDS), min_size=1, max_size=3),
           ref=st.integers(0, 10**3))
    def case(mutation: tuple[Any, ...], commands: list[str], ref: int) -> None:
        bump()
        home = box.fresh()
        (home / "codex-sessions" / "journal.jsonl").write_bytes(mutate(original, mutation, names))
        h = ["--codex-home", str(home)]
        target = (runs + ops)[ref % (len(runs) + len(ops))]
        for command in commands:
            name, *flags = command.split()
            args = [name, *([target] if name in ("show", "undo", "redo", "replay") else []), *flags, *h]
            out = checked(box, args, writes="--apply" in flags)
            seen[(command, out.code)] += 1

    seen: Counter[tuple[str, int]] = Counter()
    case()
    assert COUNTS["journals"] == CASES
    # the mutations reach the write path, not only the refusals in front of it
    assert sum(n for (command, code), n in seen.items() if "--apply" in command and code == 0) > CASES // 20, seen
    assert sum(n for (command, code), n in seen.items() if "--apply" in command and code == 3) > CASES // 20, seen
