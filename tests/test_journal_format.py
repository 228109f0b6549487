"""The journal file itself: modes, genesis, seq, hash chain, timestamps, ids."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime

import orjson
from freezegun import freeze_time

from journal.clock import IdSource, Services, SystemClock
from journal.codec import line_hash
from journal.runner import PlannedOp
from tests.helpers import World

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_first_run_creates_private_journal_with_genesis_and_chain(world: World) -> None:
    with freeze_time("2026-11-24 09:30:00"):
        world.execute([PlannedOp("rename a", (world.update("a", name="ALPHA"),))], services=Services())
    assert stat.S_IMODE(world.journal.stat().st_mode) == 0o600
    assert stat.S_IMODE(world.journal.parent.stat().st_mode) == 0o700
    lines = world.journal.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [orjson.loads(line) for line in lines[:-1]]
    assert [r["kind"] for r in records] == ["genesis", "run_begin", "intent", "outcomes", "run_end"]
    assert records[3]["results"] == [{"op": records[2]["op"], "status": "applied"}]
    assert [r["seq"] for r in records] == [0, 1, 2, 3, 4]
    assert records[0]["prev"] is None and UUID7.match(records[0]["journal_id"])
    for previous, record in zip(lines[:-2], records[1:], strict=True):
        assert record["prev"] == line_hash(previous)
    assert {r["ts"] for r in records} == {"2026-11-24T09:30:00.000Z"}
    assert all(r["v"] == 3 for r in records)
    assert records[2]["effects"][0] == {
        "kind": "row_update", "db": str(world.db), "table": "items", "key": {"id": "a"},
        "before": {"name": "alpha"}, "after": {"name": "ALPHA"},
    }


def test_intent_is_on_disk_before_the_effect_runs(world: World) -> None:
    seen: list[list[str]] = []

    def look(step: str) -> None:
        if step in ("effect", "effects_durable"):
            kinds = [orjson.loads(x)["kind"] for x in world.journal.read_bytes().splitlines()]
            seen.append(kinds)
        if step == "effects_durable":  # committed, and still no outcome on disk
            assert world.row("a")["name"] == "ALPHA"  # type: ignore[index]

    world.execute([PlannedOp("rename a", (world.update("a", name="ALPHA"),))], on_step=look)
    assert seen == [["genesis", "run_begin", "intent"]] * 2


def test_uuid7_ids_sort_by_time_even_under_a_frozen_clock() -> None:
    with freeze_time("2026-11-24 09:30:00"):
        ids = IdSource(SystemClock())
        made = [ids.new_id() for _ in range(50)]
    assert all(UUID7.match(i) for i in made)
    assert made == sorted(made)
    assert len(set(made)) == 50
    ms = int(made[0].replace("-", "")[:12], 16)
    assert ms == int(datetime(2026, 11, 24, 9, 30, tzinfo=UTC).timestamp() * 1000)


def test_appending_continues_the_chain_across_runs(world: World) -> None:
    world.execute([PlannedOp("one", (world.update("a", n=10),))])
    world.execute([PlannedOp("two", (world.update("b", n=20),))])
    lines = world.journal.read_bytes().splitlines()
    records = [orjson.loads(x) for x in lines]
    assert [r["seq"] for r in records] == list(range(len(records)))
    assert sum(1 for r in records if r["kind"] == "genesis") == 1
    for previous, record in zip(lines, records[1:], strict=False):
        assert record["prev"] == line_hash(previous)


def test_format_2_stores_the_change_inside_a_line_and_rebuilds_the_line_byte_for_byte() -> None:
    from journal.effects import LineRewrite, LineSplice, effect_from_json, effect_to_json

    before = b'{"type":"session_meta","payload":{"id":"x","model_provider":"mockA","base_instructions":"' + (
        b"long text " * 2000) + b'"}}'
    after = before.replace(b'"model_provider":"mockA"', b'"model_provider":"mockC"')
    rewrite = LineRewrite("/h/r.jsonl", 1, before, after, "f" * 64, "e" * 64)
    data = effect_to_json(rewrite)
    assert data["kind"] == "line_splice" and len(orjson.dumps(data)) < 700  # not the 20 KB line
    assert data["fields"] == [{"path": "payload.model_provider", "before": "mockA", "after": "mockC"}]
    splice = effect_from_json(orjson.loads(orjson.dumps(data)))
    assert isinstance(splice, LineSplice)
    assert splice.resolve(before) == rewrite and splice.resolve(after) == rewrite
    assert splice.resolve(before.replace(b"long", b"LONG", 1)) is None  # neither value: never guessed
    back = splice.inverse()
    assert isinstance(back, LineSplice) and back.resolve(after) == LineRewrite(
        "/h/r.jsonl", 1, after, before, "e" * 64, "f" * 64)


def test_a_splice_is_the_smallest_middle_that_differs() -> None:
    import os
    import random

    from journal.effects import splice_of

    rng = random.Random(7)
    for n in range(6000):
        a = bytes(rng.choice(b"ab") for _ in range(rng.randint(0, 40)))
        b = bytes(rng.choice(b"ab") for _ in range(rng.randint(0, 40)))
        if n % 2:  # long shared runs, so the block skipping is exercised too
            shared = bytes(rng.choice(b"ab") for _ in range(rng.randint(0, 60)))
            a, b = shared + a + shared[::-1], shared + b + shared[::-1]
        at, old, new = splice_of(a, b, step=rng.choice([1, 2, 3, 8, 4096]))
        assert a[:at] + old + a[at + len(old):] == a and a[:at] + new + a[at + len(old):] == b
        assert at == len(os.path.commonprefix([a, b]))
        tail = len(a) - at - len(old)
        assert tail == min(len(os.path.commonprefix([a[::-1], b[::-1]])), min(len(a), len(b)) - at)


def test_format_3_stores_one_file_edit_per_file_with_identical_splices_grouped(world: World) -> None:
    from journal.effects import FileEdit, effect_from_json

    meta = b'{"type":"session_meta","payload":{"id":"x","model_provider":"mockA","base_instructions":"' + (
        b"long text " * 2000) + b'"}}'
    turn = b'{"type":"thread_settings_applied","payload":{"thread_settings":{"model_provider_id":"mockA"}}}'
    doc = world.file("r.jsonl", b"\n".join([meta, turn, b'{"x":1}', turn, turn]) + b"\n")
    edit = world.rewrites(doc, {1: meta.replace(b"mockA", b"mockC"),
                                **{n: turn.replace(b"mockA", b"mockC") for n in (2, 4, 5)}})[0]
    data = edit.to_json()
    assert data["kind"] == "file_edit" and len(orjson.dumps(data)) < 700  # not the 20 KB line, nor 4 copies
    at_meta, at_turn = meta.index(b"mockA") + 4, turn.index(b"mockA") + 4  # only "A" -> "C" differs
    assert [g["at"] for g in data["splices"]] == [[[1, at_meta]], [[2, at_turn], [4, at_turn], [5, at_turn]]]
    assert (data["splices"][0]["old"], data["splices"][0]["new"]) == ("A", "C")
    assert data["splices"][1]["fields"] == [["payload.thread_settings.model_provider_id", "mockA", "mockC"]]
    back = effect_from_json(orjson.loads(orjson.dumps(data)))
    assert back == edit and isinstance(back, FileEdit)
    assert back.inverse().inverse() == edit
    shown = back.render()
    assert str(doc) in shown[0] and shown[1] == '  line 1: payload.model_provider: "mockA" -> "mockC"'
    assert shown[2] == '  lines 2, 4, 5: payload.thread_settings.model_provider_id: "mockA" -> "mockC"'
    original = doc.read_bytes()
    assert back.spliced(original).count(b"mockC") == 4 and back.inverse().spliced(back.spliced(original)) == original
