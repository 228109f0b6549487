"""A thread's transcript: its header, then its history, inherited history first.

A fork made by Codex 0.169 or later names its parent's history in `session_meta.history_base`
(`thread_id`, `end_byte_offset`): the parent's rollout up to that byte comes first, marked as
inherited, and so on up a chain of forks. A fork of a legacy thread holds a copy of the
parent's history at the top of its own file (`forked_from_id` without `history_base`): that
copy is marked inherited up to where the fork's messages stop matching the parent's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from journal.errors import NotFound
from operations.transcript.entries import (
    CopiedHistory,
    Segment,
    SettingsTrack,
    has_message_events,
    message_key,
    segment_entries,
)
from operations.transcript.lines import iter_lines
from operations.transcript.locate import HomeIndex, RolloutFile
from operations.transcript.model import ASSISTANT, FORK, NOTE, USER, Entry, Header, Limits, Transcript

MAX_PARENT_MESSAGES = 100_000  # digests held to find where a legacy fork's copy ends
TITLE_CHARS = 120


@dataclass(frozen=True, slots=True)
class Meta:
    """The first line of a rollout: its session_meta payload and that line's timestamp."""

    payload: dict[str, Any]
    time: str | None

    def text(self, key: str) -> str | None:
        value = self.payload.get(key)
        return value if isinstance(value, str) and value else None

    @property
    def history_base(self) -> tuple[str, int] | None:
        base = self.payload.get("history_base")
        if not isinstance(base, dict):
            return None
        parent, end = base.get("thread_id"), base.get("end_byte_offset")
        if isinstance(parent, str) and isinstance(end, int) and not isinstance(end, bool) and end >= 0:
            return parent.lower(), end
        return None


def read_meta(path: str) -> Meta:
    for line in iter_lines(path):
        record = line.record
        if record is not None and record.get("type") == "session_meta" and isinstance(record.get("payload"), dict):
            time = record.get("timestamp")
            return Meta(record["payload"], time if isinstance(time, str) else None)
        if record is not None and "type" not in record and isinstance(record.get("id"), str):
            return Meta(record, None)  # before September 2025: {"id", "timestamp", "instructions", "git"}
        return Meta({}, None)  # the first line only
    return Meta({}, None)


def build_transcript(index: HomeIndex, thread_id: str, limits: Limits | None = None,
                     current_provider: str | None = None) -> Transcript:
    """The transcript of `thread_id` (an exact id from `locate.resolve`); `current_provider`, when
    given, lets the header say that Codex hides a session of another provider."""
    limits = limits or Limits()
    rollout = index.rollout(thread_id)
    if rollout is None:
        raise NotFound(f"thread {thread_id} has a row but its rollout exists nowhere in {index.codex_home} "
                       "(db_not_on_disk): there is nothing to read")
    row = index.row(thread_id)
    meta = read_meta(rollout.path)
    header = _header(thread_id, rollout, row, meta, limits)
    if current_provider and header.provider and header.provider != current_provider:
        header = replace(header, notes=(*header.notes, f"Made under provider {header.provider}: Codex lists it "
                                        f"only while {header.provider} is the current provider (now "
                                        f"{current_provider})."))
    if meta.payload and "type" not in meta.payload and "instructions" in meta.payload:
        header = replace(header, notes=(*header.notes, "A rollout of the format before September 2025, which "
                                        "current Codex cannot read."))
    return Transcript(header, _history(index, thread_id, rollout, meta, limits))


def _header(thread_id: str, rollout: RolloutFile, row: dict[str, Any] | None, meta: Meta, limits: Limits) -> Header:
    first = _first_facts(rollout.path, limits)
    raw_git = meta.payload.get("git")
    git: dict[str, Any] = raw_git if isinstance(raw_git, dict) else {}

    def row_text(key: str) -> str | None:
        value = row.get(key) if row else None
        return value if isinstance(value, str) and value else None

    title = row_text("title") or row_text("first_user_message") or first.get("user") or "(no message)"
    title = title.strip().splitlines()[0][:TITLE_CHARS] if title.strip() else "(no message)"
    archived = rollout.location.startswith("archived") or bool(row and row.get("archived"))
    notes = []
    if row is None:
        notes.append("No row in Codex's index (an orphan): Codex lists it only after an import.")
    if archived:
        notes.append("Archived: Codex lists it only among archived sessions.")
    row_path = row_text("rollout_path")
    if rollout.location == "outside_home":
        notes.append("The row points at a rollout outside this Codex home; that file is the one shown.")
    elif row_path and rollout.path not in (row_path, row_path + ".zst"):
        notes.append(f"Codex's row points at {row_path}; shown is the file in this home.")
    history_base = meta.history_base
    forked_from = meta.text("forked_from_id") or (history_base[0] if history_base else None)
    return Header(
        thread_id=thread_id, title=title, created=meta.text("timestamp") or meta.time, cwd=meta.text("cwd"),
        git_branch=git.get("branch") if isinstance(git.get("branch"), str) else row_text("git_branch"),
        git_commit=git.get("commit_hash") if isinstance(git.get("commit_hash"), str) else row_text("git_sha"),
        git_repository=(git.get("repository_url") if isinstance(git.get("repository_url"), str)
                        else row_text("git_origin_url")),
        model=first.get("model") or row_text("model"),
        provider=first.get("provider") or meta.text("model_provider") or row_text("model_provider"),
        cli_version=meta.text("cli_version"), originator=meta.text("originator"),
        source=meta.text("source") or (None if meta.payload.get("source") is None else str(meta.payload["source"])),
        history_mode=meta.text("history_mode") or row_text("history_mode") or "legacy",
        rollout_path=rollout.path, compressed=rollout.compressed, location=rollout.location, has_row=row is not None,
        archived=archived, forked_from=forked_from.lower() if forked_from else None,
        fork_kind=None if not forked_from else "history_base" if history_base else "copied", notes=tuple(notes))


def _first_facts(path: str, limits: Limits) -> dict[str, str]:
    """The thread's own model, provider and first user message, from the head of its rollout (read
    until all three are known)."""
    facts: dict[str, str] = {}
    track = SettingsTrack()
    seg = Segment("", False, False, limits, track)
    for entry in segment_entries(iter_lines(path), seg):
        if entry.kind == USER and "user" not in facts and not entry.inherited:
            facts["user"] = entry.text
        if "user" in facts and {"model", "provider"} <= track.values.keys():
            break
    for key in ("model", "provider"):
        if key in track.values:
            facts[key] = track.values[key]
    return facts


def _segment(path: str, thread: str, inherited: bool, limits: Limits, settings: SettingsTrack,
             end: int | None = None, copied: CopiedHistory | None = None) -> Iterator[Entry]:
    from_items = not has_message_events(iter_lines(path, end_offset=end))
    seg = Segment(thread, inherited, from_items, limits, settings, copied)
    yield from segment_entries(iter_lines(path, end_offset=end), seg)


def _history(index: HomeIndex, thread_id: str, rollout: RolloutFile, meta: Meta, limits: Limits) -> Iterator[Entry]:
    settings = SettingsTrack()
    yield from _inherited(index, thread_id, meta, limits, settings, {thread_id}, 0)
    copied = None
    if meta.text("forked_from_id") and meta.history_base is None:
        parent = str(meta.text("forked_from_id")).lower()
        copied = _copied_history(index, parent, limits)
        if copied is None:
            yield Entry(FORK, meta.time, f"This session was forked from {parent}, whose history Codex copied into the "
                        "top of this file; that rollout is not in this home, so where the copy ends cannot be told.",
                        title="Copied history", thread=thread_id)
        else:
            yield Entry(FORK, meta.time, f"Codex copied the history of {parent} into this file when it forked this "
                        "session; it is marked as inherited up to the fork.", title="Copied history", inherited=True,
                        thread=parent)
    yield from _segment(rollout.path, thread_id, False, limits, settings, copied=copied)


def _inherited(index: HomeIndex, thread_id: str, meta: Meta, limits: Limits, settings: SettingsTrack,
               seen: set[str], depth: int) -> Iterator[Entry]:
    """The history `thread_id` inherits through `history_base`, oldest ancestor first."""
    base = meta.history_base
    if base is None:
        return
    parent, end = base
    if parent in seen or depth >= limits.fork_depth:
        yield Entry(NOTE, meta.time, f"The chain of forks goes on past {parent} (a loop, or more than "
                    f"{limits.fork_depth} forks deep); older history is not shown.", title="Fork chain cut",
                    thread=thread_id)
        return
    rollout = index.rollout(parent)
    if rollout is None:
        yield Entry(FORK, meta.time, f"This session was forked from {parent}, whose rollout is not in this home: the "
                    f"{end:,} bytes of history it inherits cannot be shown.", title="Inherited history not found",
                    thread=thread_id)
        return
    parent_meta = read_meta(rollout.path)
    yield from _inherited(index, parent, parent_meta, limits, settings, seen | {parent}, depth + 1)
    yield Entry(FORK, parent_meta.time, f"Inherited from {parent} (its rollout up to byte {end:,}): the history this "
                "session was forked from.", title="Inherited history", inherited=True, thread=parent)
    yield from _segment(rollout.path, parent, True, limits, settings, end=end)
    yield Entry(FORK, meta.time, f"{thread_id} was forked from {parent} here; what follows is its own.",
                title="Forked", thread=thread_id)


def _copied_history(index: HomeIndex, parent: str, limits: Limits) -> CopiedHistory | None:
    rollout = index.rollout(parent)
    if rollout is None:
        return None
    keys = []
    seg = Segment(parent, True, not has_message_events(iter_lines(rollout.path)), limits, SettingsTrack())
    for entry in segment_entries(iter_lines(rollout.path), seg):
        if entry.kind in (USER, ASSISTANT):
            keys.append(message_key(entry))
            if len(keys) >= MAX_PARENT_MESSAGES:
                break
    return CopiedHistory(parent, keys)
