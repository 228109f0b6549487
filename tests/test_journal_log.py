"""`log` and `show`: newest first, filters, derived states, JSON."""

from __future__ import annotations

import orjson

import journal
from journal.logview import LogHealth, check_chain, iter_log
from journal.runner import PlannedOp
from tests.helpers import World, cli, cli_json

J = "--journal"


def test_log_lists_newest_first_with_states_and_filters(world: World) -> None:
    first = world.execute([PlannedOp("set a", (world.update("a", n=10),), subject="a"),
                           PlannedOp("set b", (world.update("b", n=20),), subject="b")])
    code, undo = cli_json("undo", first.ops[0].op_id, "--apply", J, str(world.journal))
    assert code == 0
    code, data = cli_json("log", J, str(world.journal))
    assert code == 0
    entries = data["data"]["entries"]
    assert [(e["type"], e.get("label") or e.get("command"), e.get("action")) for e in entries] == [
        ("run", "undo", None), ("op", "set a", "undo"), ("run", "test", None), ("op", "set b", None),
        ("op", "set a", None)]
    states = {(e.get("action"), e["label"]): e["state"] for e in entries if e["type"] == "op"}
    assert states == {("undo", "set a"): "in effect", (None, "set b"): "in effect", (None, "set a"): "undone"}
    assert entries[1]["compensates"] == first.ops[0].op_id

    code, only = cli_json("log", "--target", "items", "--limit", "1", J, str(world.journal))
    assert [(e["action"], e["label"]) for e in only["data"]["entries"] if e["type"] == "op"] == [("undo", "set a")]
    code, by_run = cli_json("log", "--run", first.run_id[:18], J, str(world.journal))
    assert [e.get("label") for e in by_run["data"]["entries"]] == [None, "set b", "set a"]
    code, by_op = cli_json("log", "--op", first.ops[1].op_id, J, str(world.journal))
    assert [e["label"] for e in by_op["data"]["entries"]] == ["set b"]

    human = cli("log", J, str(world.journal))
    assert human.exit_code == 0
    assert human.stdout.index("undo of set a") < human.stdout.index("set b")
    assert "undone" in human.stdout


def test_log_skips_a_torn_tail_and_reports_pending(world: World) -> None:
    world.execute([PlannedOp("set a", (world.update("a", n=10),))])
    world.journal.write_bytes(world.journal.read_bytes() + b'{"kind":"intent","op"')
    code, data = cli_json("log", J, str(world.journal))
    assert code == 0 and [e.get("label") for e in data["data"]["entries"]] == [None, "set a"]


def test_show_gives_every_effect_with_before_after_and_current_state(world: World) -> None:
    run = world.execute([PlannedOp("set a", (world.update("a", n=10, name="A"),))])
    code, data = cli_json("show", run.ops[0].op_id[:20], J, str(world.journal))
    assert code == 0
    effect = data["data"]["operations"][0]["effects"][0]
    assert effect["before"] == {"n": 1, "name": "alpha"} and effect["after"] == {"n": 10, "name": "A"}
    assert effect["now"] == "after" and effect["op_state"] == "in effect"
    text = cli("show", run.run_id, J, str(world.journal)).stdout
    assert "n: 1 -> 10" in text and "name: 'alpha' -> 'A'" in text


def test_commands_without_a_journal_say_so(world: World) -> None:
    result = cli("log", J, str(world.root / "nope.jsonl"))
    assert result.exit_code == 0 and "nothing has been recorded yet" in result.stdout
    code, data = cli_json("undo", "0193abcd", J, str(world.root / "nope.jsonl"))
    assert code == 2 and data["errors"][0]["code"] == "not_found"


def test_the_forward_chain_check_reaches_the_verdict_of_the_backward_one(world: World) -> None:
    """`log` over a large journal checks the chain in a second process, reading forward; it must
    say what reading backward says: the newest line whose successor does not chain, and how many
    lines do not parse."""
    for n in range(4):
        world.execute([PlannedOp(f"op {n}", (world.update("a", n=10 + n),))])
    assert check_chain(str(world.journal)).ok
    lines = world.journal.read_bytes().split(b"\n")
    intents = [n for n, line in enumerate(lines) if b'"label":"op' in line]
    for index in intents[:2]:  # two edits: the newer one is the verdict
        lines[index] = lines[index].replace(b'"label":"op', b'"label":"OP')
    lines[intents[3] + 1] = b"not json at all"
    world.journal.write_bytes(b"\n".join(lines))
    backward = LogHealth()
    list(iter_log(str(world.journal), health=backward))
    forward = check_chain(str(world.journal))
    assert not backward.ok and backward.unreadable_lines == 1
    assert (forward.damaged_at_seq, forward.unreadable_lines) == (backward.damaged_at_seq, backward.unreadable_lines)
    assert forward.damaged_at_seq == orjson.loads(lines[intents[1]])["seq"]
    listing = journal.log(world.journal, runs=True)  # runs alone check the chain the same way
    list(listing.entries)
    assert (listing.health().damaged_at_seq, listing.health().unreadable_lines) == (forward.damaged_at_seq, 1)


def test_log_runs_and_labels_that_do_not_pile_up_on_the_command_line(world: World) -> None:
    first = world.execute([PlannedOp("set a", (world.update("a", n=10),)),
                           PlannedOp("set b", (world.update("b", n=20),))])
    code, undone = cli_json("undo", first.run_id, "--apply", J, str(world.journal))
    assert code == 0, undone
    code, redone = cli_json("undo", undone["data"]["run"], "--apply", J, str(world.journal))  # undo of the undo
    assert code == 0, redone
    human = cli("log", "--runs", J, str(world.journal))
    lines = human.stdout.splitlines()
    assert human.exit_code == 0 and len(lines) == 3 and not any(" op " in line for line in lines)
    assert f"(undoes {undone['data']['run']})" in lines[0] and f"(undoes {first.run_id})" in lines[1]
    assert "[ok]  2 applied" in lines[2]
    code, runs = cli_json("log", "--runs", "--limit", "1", J, str(world.journal))
    assert code == 0 and [r["run"] for r in runs["data"]["entries"]] == [redone["data"]["run"]]
    code, refused = cli_json("log", "--runs", "--op", first.ops[0].op_id, J, str(world.journal))
    assert code == 2 and "--runs lists runs only" in refused["errors"][0]["message"]
    listing = cli("log", J, str(world.journal)).stdout
    assert "redo of set a" in listing and "undo of set a" in listing and "undo: " not in listing
    shown = cli("show", redone["data"]["operations"][0]["op_id"], J, str(world.journal)).stdout
    # the undo run taken back newest first: its undo of set a first
    assert "redo of set a" in shown and f"origin {first.ops[0].op_id}" in shown
    code, data = cli_json("log", J, str(world.journal))
    origins = {(e["action"], e["label"]): e["origin"] for e in data["data"]["entries"] if e.get("action")}
    assert origins == {("redo", "set a"): first.ops[0].op_id, ("redo", "set b"): first.ops[1].op_id,
                       ("undo", "set a"): first.ops[0].op_id, ("undo", "set b"): first.ops[1].op_id}
