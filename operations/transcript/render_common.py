"""What every format shows the same way: labels, times, the header's facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from operations.transcript.model import (
    ASSISTANT,
    COMPACTION,
    REASONING,
    SETTINGS,
    TOOL_CALL,
    TOOL_OUTPUT,
    USER,
    Entry,
    Header,
)

Sink = Callable[[str], None]  # where rendered text goes, piece by piece (a file, stdout)


def display_time(value: str | None, short: bool = False) -> str:
    """`2026-11-30 10:52:10 UTC` (or `10:52:10` when `short`); a value that is not a time, as written."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%H:%M:%S") if short else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def label(entry: Entry) -> str:
    if entry.kind == USER:
        return "User"
    if entry.kind == ASSISTANT:
        return "Codex"
    if entry.kind == REASONING:
        return "Reasoning summary"
    if entry.kind == TOOL_CALL:
        return f"Tool call: {entry.title}" if entry.title else "Tool call"
    if entry.kind == TOOL_OUTPUT:
        return f"Output of {entry.title}" if entry.title else "Tool output"
    if entry.kind == COMPACTION:
        return entry.title or "Context compacted"
    if entry.kind == SETTINGS:
        return f"{entry.title.capitalize()} changed"
    return entry.title or entry.kind.capitalize()


def peek(text: str, width: int = 80) -> str:
    """The first line of `text`, cut to `width` characters: what a folded call shows."""
    first = text.strip().split("\n", 1)[0]
    return first if len(first) <= width else first[: width - 1] + "…"


def header_facts(h: Header) -> list[tuple[str, str]]:
    """(name, value) pairs, in the order a reader wants them; missing facts left out."""
    facts = [("Thread", h.thread_id), ("Started", display_time(h.created))]
    if h.model:
        facts.append(("Model", h.model))
    if h.provider:
        facts.append(("Provider", h.provider))
    if h.cwd:
        facts.append(("Folder", h.cwd))
    if h.git_branch or h.git_commit or h.git_repository:
        git = " ".join(p for p in (h.git_branch and f"branch {h.git_branch}",
                                   h.git_commit and f"at {h.git_commit[:12]}",
                                   h.git_repository and f"({h.git_repository})") if p)
        facts.append(("Git", git))
    codex = " · ".join(p for p in (h.cli_version and f"Codex {h.cli_version}", h.originator, h.source and f"source "
                                   f"{h.source}", h.history_mode and f"{h.history_mode} history") if p)
    if codex:
        facts.append(("Written by", codex))
    if h.forked_from:
        facts.append(("Forked from", h.forked_from))
    facts.append(("Rollout", h.rollout_path + (" (zstd-compressed)" if h.compressed else "")))
    return facts
