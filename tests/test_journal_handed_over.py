"""A journal handed over (copied from another machine, or forged with its hash chain rebuilt)
is read with suspicion: a record of no valid shape is named by `verify` and refuses writes, an
effect naming a folder, a FIFO or a huge file outside the home is shown as unreadable without
blocking or reading it whole, and no undo writes there."""

from __future__ import annotations

import os
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest

from fixtures.generator import BuiltHome, HomeSpec, build_home
from tests.fuzzing import rechain
from tests.helpers import cli_json

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="a FIFO outside the home")


def _home_with_a_run(tmp_path: Path) -> tuple[BuiltHome, list[dict[str, Any]], str]:
    built = build_home(tmp_path / "home", HomeSpec(version="0.171.0", sessions=4, providers=("openai", "azure"),
                                                   archived_share=0.0, exec_share=0.0, seed=51))
    code, ran = cli_json("run", "migrate-provider", "--to-provider", "openai", "--apply", "--codex-home",
                         str(built.root))
    assert code == 0 and ran["data"]["operations"], ran
    journal = built.root / "codex-sessions" / "journal.jsonl"
    return built, [orjson.loads(line) for line in journal.read_bytes().splitlines()], ran["data"]["run"]


def _forge(built: BuiltHome, records: list[dict[str, Any]], path: str) -> str:
    """Point the first file_edit of the run at `path` and rebuild the chain; returns its op id."""
    for record in records:
        if record.get("kind") == "intent":
            for effect in record["effects"]:
                if effect["kind"] == "file_edit":
                    effect["path"] = path
                    (built.root / "codex-sessions" / "journal.jsonl").write_bytes(rechain(records))
                    return str(record["op"])
    raise AssertionError("no file_edit in the run")


def _within(seconds: float, call: Any) -> Any:
    done: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: done.update(value=call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "blocked"
    return done["value"]


@pytest.mark.parametrize("target", ["fifo", "folder", "victim"])
def test_effects_naming_what_is_outside_are_shown_and_never_written(tmp_path: Path, target: str) -> None:
    built, records, run_id = _home_with_a_run(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.jsonl"
    victim.write_bytes(b'{"type":"session_meta","payload":{"id":"victim"}}\n')
    os.mkfifo(outside / "fifo.jsonl")
    path = {"fifo": outside / "fifo.jsonl", "folder": outside, "victim": victim}[target]
    op = _forge(built, records, str(path))
    h = ["--codex-home", str(built.root)]
    code, shown = _within(120, lambda: cli_json("show", op, *h))
    assert code == 0, shown
    (effect,) = [e for e in shown["data"]["operations"][0]["effects"] if e["kind"] == "file_edit"]
    assert effect["now"] == "other" and str(path) in effect["now_detail"]
    code, preview = _within(120, lambda: cli_json("undo", op, *h))
    assert code == 0 and preview["data"]["would_refuse"], preview
    code, refused = _within(120, lambda: cli_json("undo", run_id, "--apply", "--force", *h))
    assert code == 3 and refused["errors"][0]["code"] in ("conflict", "outside_home"), refused
    assert victim.read_bytes() == b'{"type":"session_meta","payload":{"id":"victim"}}\n'
    assert sorted(p.name for p in outside.iterdir()) == ["fifo.jsonl", "victim.jsonl"]


def test_a_huge_file_named_by_a_journal_is_never_read_whole(tmp_path: Path) -> None:
    built, records, _ = _home_with_a_run(tmp_path)
    huge = tmp_path / "outside" / "huge.jsonl"
    huge.parent.mkdir()
    with open(huge, "wb") as handle:
        handle.truncate(256 << 20)  # sparse: 256 MiB that take no room
    for record in records:
        if record.get("kind") == "intent":
            for effect in record["effects"]:
                if effect["kind"] == "file_edit":
                    effect["before"]["size"] = 256 << 20  # so the probe has to look at its bytes
    op = _forge(built, records, str(huge))
    tracemalloc.start()
    try:
        code, shown = cli_json("show", op, "--codex-home", str(built.root))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0 and peak < 64 << 20, peak  # read in chunks, never whole


def test_a_record_of_no_valid_shape_is_named_and_refuses_writes(tmp_path: Path) -> None:
    built, records, run_id = _home_with_a_run(tmp_path)
    intent = next(r for r in records if r.get("kind") == "intent")
    intent["effects"][0]["kind"] = "delete_everything"  # a kind no release writes
    (built.root / "codex-sessions" / "journal.jsonl").write_bytes(rechain(records))
    h = ["--codex-home", str(built.root)]
    code, verified = cli_json("verify", *h)
    assert code == 3 and [p["kind"] for p in verified["data"]["problems"]] == ["bad_record"], verified
    assert "delete_everything" in verified["data"]["problems"][0]["message"]
    code, refused = cli_json("undo", run_id, "--apply", *h)
    assert code == 3 and refused["errors"][0]["code"] == "journal_corrupt"
    code, logged = cli_json("log", *h)  # readers go on, and skip the line
    assert code == 0 and intent["op"] not in {e.get("op") for e in logged["data"]["entries"]}
    code, preview = cli_json("undo", run_id, *h)
    assert code == 0 and "damaged" in preview["data"]["would_refuse"]
