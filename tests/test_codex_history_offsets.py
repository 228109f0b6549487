"""The byte offsets `thread_history_1.sqlite` keeps into a rollout stay true, for the real Codex,
after `run migrate-provider --apply` changes the lengths of lines before them.

A thread made by `codex exec` and two resumes under provider `mockLonger` is migrated to
`mockB` (every rewritten line 5 bytes shorter). Then every `thread_turns` offset and the
projection's `next_rollout_byte_offset` point at the same lines (provider aside); Codex's
`thread/turns/list` returns the same turns (it answers from the projection, not the file);
`thread/fork` through the second turn (which refuses a rollout shorter than the projection's
offset: "durable rollout shrank before projection") succeeds and copies that turn's shifted
`rollout_end_byte_offset` into the fork's `history_base.end_byte_offset`; a fork made before
the migration has its `history_base` shifted too and, resumed, gives the model its parent's
first two turns; undo gives back every byte and row; a later resume appends a turn Codex
lists. The same holds for a rollout Codex's own worker compressed, whose offsets count
decompressed bytes. The control makes the same edit by hand,
offsets left alone: the offset check fails and Codex refuses the fork.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from journal.zstdio import decompress
from tests.codex.compression import age, run_compression_worker
from tests.codex.harness import AppServer, CodexFailed, CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.codexhome import snapshot, undo
from tests.helpers import cli_json

pytestmark = pytest.mark.codex
OLD, NEW = "mockLonger", "mockB"
PROMPTS = ("first task", "second task", "third task")
Turns = list[tuple[str, str, list[tuple[str, Any]]]]
Offsets = tuple[int, list[tuple[str, int, int]]]


def _rollout(home: Path, thread_id: str) -> Path:
    (path,) = list((home / "sessions").rglob(f"rollout-*{thread_id}.jsonl*"))
    return path


def _content(path: Path) -> bytes:
    """The bytes the offsets count: a `.jsonl.zst` rollout's decompressed content."""
    raw = path.read_bytes()
    return decompress(raw, 1 << 30) if path.name.endswith(".zst") else raw


def _offsets(home: Path, thread_id: str) -> Offsets:
    conn = sqlite3.connect(home / "thread_history_1.sqlite")
    try:
        (state,) = conn.execute("SELECT next_rollout_byte_offset FROM thread_history_projection_state "
                                "WHERE thread_id = ?", (thread_id,)).fetchone()
        turns = conn.execute("SELECT turn_id, rollout_byte_offset, rollout_end_byte_offset FROM thread_turns "
                             "WHERE thread_id = ? ORDER BY rollout_ordinal", (thread_id,)).fetchall()
        return state, [(t, int(a), int(b)) for t, a, b in turns]
    finally:
        conn.close()


def _pointed(data: bytes, offsets: Offsets) -> list[tuple[bytes, bytes]]:
    """Each turn's first and last line, read by its offsets as Codex stores them: the start is a
    line's first byte, the end is just past a line's newline; the projection ends at the file's end."""
    state, turns = offsets
    assert state == len(data)
    pointed = []
    for _turn, start, end in turns:
        assert start == 0 or data[start - 1:start] == b"\n", (start, data[start - 40:start + 40])
        assert data[end - 1:end] == b"\n", (end, data[end - 40:end + 40])
        pointed.append((data[start:data.index(b"\n", start)], data[data.rindex(b"\n", 0, end - 1) + 1:end - 1]))
    return pointed


def _as_migrated(lines: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    old, new = f'"{OLD}"'.encode(), f'"{NEW}"'.encode()
    return [(first.replace(old, new), last.replace(old, new)) for first, last in lines]


def _turns(server: AppServer, thread_id: str) -> Turns:
    """Codex's own `thread/turns/list`, oldest first, every page: id, status, each item's text."""
    turns: Turns = []
    cursor = None
    while True:
        page = server.request("thread/turns/list", {"threadId": thread_id, "itemsView": "full",
                                                    "sortDirection": "asc", **({"cursor": cursor} if cursor else {})})
        for turn in page["data"]:
            items = [(i["type"], i.get("text", [c.get("text") for c in i.get("content", [])])) for i in turn["items"]]
            turns.append((turn["id"], turn["status"], items))
        cursor = page.get("nextCursor")
        if not cursor:
            return turns


def _said(prompt: str) -> list[tuple[str, Any]]:
    return [("userMessage", [prompt]), ("agentMessage", "Done.")]


def _made(codex: CodexSession, cwd: Path) -> str:
    codex.write_config(current=OLD)
    thread = codex.exec(PROMPTS[0], cwd)
    for prompt in PROMPTS[1:]:
        codex.resume(thread, prompt, cwd)
    return thread


def _fork(codex: CodexSession, thread_id: str, through: str) -> str:
    """Codex's `thread/fork` through one turn; returns the fork's id."""
    with AppServer(codex) as server:
        fork: str = server.request("thread/fork", {"threadId": thread_id, "lastTurnId": through})["thread"]["id"]
    return fork


def _history_base(home: Path, fork: str) -> dict[str, Any]:
    base: dict[str, Any] = json.loads(_content(_rollout(home, fork)).split(b"\n", 1)[0])["payload"]["history_base"]
    return base


def _listed(codex: CodexSession, thread_id: str) -> Turns:
    with AppServer(codex) as server:
        return _turns(server, thread_id)


@pytest.mark.parametrize(("version", "compressed"), [("0.171.0", False), ("0.169.0", False), ("0.171.0", True)],
                         ids=["0.171.0-plain", "0.169.0-plain", "0.171.0-compressed"])
def test_shifted_offsets_are_read_by_codex_as_the_same_turns(
        tmp_path: Path, codex_binary_for: Callable[[str], Path], version: str, compressed: bool) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cwd = tmp_path / "proj"
    with MockResponsesAPI() as api:
        codex = CodexSession(codex_binary_for(version), home, api, providers=(OLD, NEW), current=OLD)
        try:
            thread = _made(codex, cwd)
            turns_before = _listed(codex, thread)
            # a fork made before the migration: its history_base points into the parent's rollout
            early = _fork(codex, thread, turns_before[1][0])
            codex.resume(early, "fork task", cwd)
            if compressed:
                age([_rollout(home, t) for t in (thread, early)], days=8)
                assert run_compression_worker(codex)["compressed"] == 2
                assert _rollout(home, thread).name.endswith(".jsonl.zst")
            assert [items for _id, _status, items in turns_before] == [_said(p) for p in PROMPTS]
            data_before, offsets_before = _content(_rollout(home, thread)), _offsets(home, thread)
            assert len(offsets_before[1]) == len(PROMPTS)
            assert _history_base(home, early)["end_byte_offset"] == offsets_before[1][1][2]
            pointed_before = _pointed(data_before, offsets_before)

            codex.write_config(current=NEW)
            before = snapshot(home)
            code, applied = cli_json("run", "migrate-provider", "--apply", "--codex-home", str(home))
            assert code == 0, applied
            data_after, offsets_after = _content(_rollout(home, thread)), _offsets(home, thread)
            first_before, first_after = data_before.split(b"\n", 1)[0], data_after.split(b"\n", 1)[0]
            assert len(first_after) == len(first_before) - (len(OLD) - len(NEW))
            assert _rollout(home, thread).name.endswith(".zst") == compressed
            # (a) every offset moved, and points at the same lines, the provider aside
            assert all(a[1:] != b[1:] for a, b in zip(offsets_before[1], offsets_after[1], strict=True))
            assert _pointed(data_after, offsets_after) == _as_migrated(pointed_before)
            assert _history_base(home, early)["end_byte_offset"] == offsets_after[1][1][2]
            # (b) Codex lists the same turns
            assert _listed(codex, thread) == turns_before

            # (d) undo gives back every byte (compressed too), mtime and offset; redo the same again
            after = snapshot(home)
            code, undone = undo(home, applied["data"]["run"])
            assert code == 0, undone
            assert snapshot(home) == before
            assert _offsets(home, thread) == offsets_before
            code, redone = cli_json("redo", undone["data"]["run"], "--apply", "--codex-home", str(home))
            assert code == 0, redone
            assert snapshot(home) == after

            # Codex cuts a fork at the turn's end offset, refusing a rollout shorter than its projection
            late = _fork(codex, thread, turns_before[1][0])
            assert _listed(codex, late) == turns_before[:2]
            assert _history_base(home, late)["end_byte_offset"] == offsets_after[1][1][2]

            # (c) a resume appends one more turn, which Codex lists and whose offsets are true
            codex.resume(thread, "fourth task", cwd)
            data_resumed, offsets_resumed = _content(_rollout(home, thread)), _offsets(home, thread)
            assert data_resumed.startswith(data_after)
            assert _pointed(data_resumed, offsets_resumed)[:-1] == _as_migrated(pointed_before)
            turns_resumed = _listed(codex, thread)
            assert turns_resumed[:-1] == turns_before
            assert turns_resumed[-1][1:] == ("completed", _said("fourth task"))
            # the early fork, resumed, gives the model its parent's history up to the shifted offset
            asked = len(api.requests)
            codex.resume(early, "fork task two", cwd)
            sent = json.dumps(api.requests[asked:])
            assert all(p in sent for p in (*PROMPTS[:2], "fork task", "fork task two")) and PROMPTS[2] not in sent
            assert [items for _id, _status, items in _listed(codex, early)] == [
                _said(p) for p in (*PROMPTS[:2], "fork task", "fork task two")]
        finally:
            codex.close()
        assert codex.live_processes() == []


def test_control_offsets_left_stale_by_a_hand_edit_are_caught(
        tmp_path: Path, codex_binary_for: Callable[[str], Path]) -> None:
    """The same provider edit made by hand, the offsets left as they were: the checks above fail."""
    home = tmp_path / "home"
    home.mkdir()
    with MockResponsesAPI() as api:
        codex = CodexSession(codex_binary_for("0.171.0"), home, api, providers=(OLD, NEW), current=OLD)
        try:
            thread = _made(codex, tmp_path / "proj")
            turns_before = _listed(codex, thread)
            rollout = _rollout(home, thread)
            data_before, offsets = rollout.read_bytes(), _offsets(home, thread)
            pointed_before = _pointed(data_before, offsets)
            edited = data_before.replace(f'"model_provider":"{OLD}"'.encode(), f'"model_provider":"{NEW}"'.encode())
            edited = edited.replace(f'"model_provider_id":"{OLD}"'.encode(), f'"model_provider_id":"{NEW}"'.encode())
            assert len(edited) < len(data_before)
            rollout.write_bytes(edited)
            conn = sqlite3.connect(home / "state_5.sqlite")
            with conn:
                conn.execute("UPDATE threads SET model_provider = ? WHERE id = ?", (NEW, thread))
            conn.close()
            codex.write_config(current=NEW)

            assert offsets[0] > len(edited)  # the projection's offset is past the file's end
            try:  # the turns' offsets alone (the projection's end taken as true)
                stale: list[tuple[bytes, bytes]] | None = _pointed(edited, (len(edited), offsets[1]))
            except AssertionError:  # an offset no longer at a line's start or end
                stale = None
            assert stale != _as_migrated(pointed_before)
            assert _listed(codex, thread) == turns_before  # listing reads the projection, not the file
            with pytest.raises(CodexFailed, match="shrank"):
                _fork(codex, thread, turns_before[1][0])
        finally:
            codex.close()
        assert codex.live_processes() == []
