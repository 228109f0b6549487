"""What a transcript is made of: a header about the session, then its entries in order.

Entries are produced lazily (a generator over the rollout), so a transcript of a rollout of
any size is rendered in bounded memory: only one line and one entry are held at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

# Entry kinds, in the words a reader sees them
USER = "user"
ASSISTANT = "assistant"
REASONING = "reasoning"  # a reasoning summary (never the encrypted content)
TOOL_CALL = "tool_call"
TOOL_OUTPUT = "tool_output"
COMPACTION = "compaction"  # Codex replaced the history by a summary here
FORK = "fork"  # where inherited history starts or ends
SETTINGS = "settings"  # the model or the provider changed
NOTE = "note"  # a turn interrupted, turns rolled back, damaged lines skipped
KINDS = (USER, ASSISTANT, REASONING, TOOL_CALL, TOOL_OUTPUT, COMPACTION, FORK, SETTINGS, NOTE)


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of each kind of text is kept; the rest is counted, not shown."""

    message_chars: int = 200_000
    reasoning_chars: int = 20_000
    tool_input_chars: int = 2_000
    tool_input_lines: int = 24
    tool_output_chars: int = 4_000
    tool_output_lines: int = 40
    summary_chars: int = 4_000
    fork_depth: int = 16  # a fork of a fork of …: at most this many ancestors are read


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    time: str | None  # the rollout line's UTC timestamp, as written
    text: str
    title: str = ""  # a tool's name, a marker's headline
    call_id: str | None = None
    omitted: int = 0  # characters of `text` left out by the limits
    inherited: bool = False  # history from a parent thread, before this session was forked
    thread: str = ""  # the thread whose rollout holds this entry

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "", 0, False) or k in ("kind", "text")}


@dataclass(frozen=True, slots=True)
class Header:
    thread_id: str
    title: str
    created: str | None
    cwd: str | None
    git_branch: str | None
    git_commit: str | None
    git_repository: str | None
    model: str | None
    provider: str | None
    cli_version: str | None
    originator: str | None
    source: str | None
    history_mode: str | None
    rollout_path: str
    compressed: bool
    location: str  # sessions, archived_sessions, outside_home
    has_row: bool  # False: an orphan, a rollout Codex's index does not know
    archived: bool
    forked_from: str | None = None
    fork_kind: str | None = None  # history_base (the parent's bytes are read) or copied (in this file)
    notes: tuple[str, ...] = field(default_factory=tuple)  # e.g. why Codex hides this session

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


@dataclass(slots=True)
class Transcript:
    header: Header
    entries: Iterator[Entry]  # read once, in order
