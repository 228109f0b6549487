"""Torn tails, corrupt lines, broken chains, a head deleted from the end, and two writers at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import journal
from journal import JournalCorrupt, LockHeld, PlannedOp
from tests.journal.world import World

REPO = Path(__file__).resolve().parents[2]


def _two_runs(world: World) -> None:
    world.execute([PlannedOp("one", (world.update("a", n=10),))])
    world.execute([PlannedOp("two", (world.update("b", n=20),))])


def _assert_undo_refused_as_corrupt(world: World, run_begin: bytes) -> None:
    """An undo of a real run is refused as a corrupt journal and writes nothing; its dry run says so."""
    before = world.journal.read_bytes()
    run_id = orjson.loads(run_begin)["run"]
    with pytest.raises(JournalCorrupt, match=r"`verify\(\)`"):  # named as the API names it
        journal.undo(world.journal, run_id, world.services(), roots=world.roots)
    assert world.journal.read_bytes() == before


def test_torn_tail_is_set_aside_trimmed_and_recorded_before_the_next_append(world: World) -> None:
    _two_runs(world)
    good = world.journal.read_bytes()
    torn = b'{"kind":"intent","op":"half-writ'
    world.journal.write_bytes(good + torn)
    checked = journal.verify(world.journal)
    assert checked.ok and checked.scan.torn is not None
    assert (checked.scan.torn.offset, checked.scan.torn.data) == (len(good), torn)
    world.execute([PlannedOp("three", (world.update("c", n=30),))])
    content = world.journal.read_bytes()
    assert content.startswith(good)
    first_new = orjson.loads(content[len(good):].split(b"\n")[0])
    assert first_new["kind"] == "torn_tail" and first_new["offset"] == len(good) and first_new["length"] == len(torn)
    aside = [orjson.loads(x) for x in Path(str(world.journal) + ".torn").read_bytes().splitlines()]
    assert aside[0]["offset"] == len(good) and aside[0]["bytes"] == torn.decode()
    assert journal.verify(world.journal).ok


def test_a_journal_torn_in_its_first_line_starts_again_with_a_genesis(world: World) -> None:
    world.journal.parent.mkdir(parents=True)
    world.journal.write_bytes(b'{"kind":"genesis","journal_id":"01')
    world.execute([PlannedOp("one", (world.update("a", n=10),))])
    kinds = [orjson.loads(x)["kind"] for x in world.journal.read_bytes().splitlines()]
    assert kinds[:2] == ["genesis", "torn_tail"]
    assert journal.verify(world.journal).ok


def test_a_torn_multibyte_character_counts_as_torn(world: World) -> None:
    _two_runs(world)
    world.journal.write_bytes(world.journal.read_bytes() + '{"label":"caf\u00e9'.encode()[:-1])
    world.execute([PlannedOp("three", (world.update("c", n=30),))])
    assert journal.verify(world.journal).ok


def test_corrupt_middle_line_refuses_writes_and_verify_names_the_line(world: World) -> None:
    _two_runs(world)
    lines = world.journal.read_bytes().split(b"\n")
    lines[3] = b"this is not json"
    world.journal.write_bytes(b"\n".join(lines))
    before = world.journal.read_bytes()
    with pytest.raises(JournalCorrupt, match="line 4") as refused:
        world.execute([PlannedOp("three", (world.update("c", n=30),))])
    assert "log(journal='MOVED')" in refused.value.message  # how to read it once moved aside, in the API's words
    assert world.journal.read_bytes() == before
    assert (world.row("c") or {})["n"] == 3
    checked = journal.verify(world.journal)
    assert not checked.ok
    assert (4, "corrupt_line") in [(p.line, p.kind) for p in checked.scan.problems]
    _assert_undo_refused_as_corrupt(world, lines[1])


def test_an_edited_line_breaks_the_hash_chain(world: World) -> None:
    _two_runs(world)
    lines = world.journal.read_bytes().split(b"\n")
    record = orjson.loads(lines[2])
    record["label"] = "rewritten history"
    lines[2] = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    world.journal.write_bytes(b"\n".join(lines))
    checked = journal.verify(world.journal)
    assert not checked.ok
    assert [(p.line, p.kind) for p in checked.scan.problems] == [(4, "broken_chain")]
    _assert_undo_refused_as_corrupt(world, lines[1])
    with pytest.raises(JournalCorrupt):
        world.execute([PlannedOp("three", (world.update("c", n=30),))])


def test_a_deleted_line_is_noticed(world: World) -> None:
    _two_runs(world)
    lines = world.journal.read_bytes().split(b"\n")
    del lines[3]
    world.journal.write_bytes(b"\n".join(lines))
    checked = journal.verify(world.journal)
    assert not checked.ok
    assert {p.kind for p in checked.scan.problems} == {"broken_chain", "bad_seq"}


def test_lines_deleted_from_the_end_are_found_against_a_head_printed_earlier(world: World) -> None:
    world.execute([PlannedOp("one", (world.update("a", n=10),))])
    head = journal.verify(world.journal).scan.last_hash
    assert head is not None
    world.execute([PlannedOp("two", (world.update("b", n=20),))])
    later = journal.verify(world.journal, expect_head=head.upper())
    assert later.ok and later.head_found_at is not None
    assert later.scan.last_seq - later.head_found_at == 4  # the second run: begin, intent, outcomes, end
    lines = world.journal.read_bytes().splitlines(keepends=True)
    cut = next(n for n, line in enumerate(lines) if b'"one"' in line)  # keep the genesis and the first run_begin
    world.journal.write_bytes(b"".join(lines[:cut]))  # still a sound chain, just shorter
    shorter = journal.verify(world.journal, expect_head=head)
    assert shorter.scan.healthy and not shorter.ok and shorter.head_found_at is None


HOLDER = """
import sys, time
import journal
with journal.open_writer(sys.argv[1], journal.Services()):
    print("locked", flush=True)
    time.sleep(30)
"""


def test_a_second_writer_is_refused_not_kept_waiting(world: World) -> None:
    first = world.execute([PlannedOp("one", (world.update("a", n=10),))])
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(world.journal)], stdout=subprocess.PIPE, text=True,
                              cwd=REPO)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        # the holder never lets go: reaching the asserts at all shows nobody waited for it
        with pytest.raises(LockHeld, match="another journal-test run"):  # the tool's name, as the caller gave it
            world.execute([PlannedOp("two", (world.update("b", n=20),))])
        with pytest.raises(LockHeld):
            journal.undo(world.journal, first.run_id, world.services(), roots=world.roots)
        assert (world.row("a") or {})["n"] == 10
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert journal.undo(world.journal, first.run_id, world.services(), roots=world.roots).settled


def test_an_intent_naming_an_action_of_no_known_kind_is_damage(world: World) -> None:
    world.execute([PlannedOp("one", (world.update("a", n=10),))])
    lines = world.journal.read_bytes().splitlines(keepends=True)
    intent = next(n for n, line in enumerate(lines) if b'"kind":"intent"' in line)
    lines[intent] = lines[intent].replace(b'"label":"one"', b'"label":"one","action":"erase"')
    world.journal.write_bytes(b"".join(lines))
    checked = journal.verify(world.journal)
    assert not checked.ok and any("`action` is" in p.message for p in checked.scan.problems), checked.scan.problems
    with pytest.raises(JournalCorrupt):
        world.execute([PlannedOp("two", (world.update("b", n=20),))])
