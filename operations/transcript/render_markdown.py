"""The transcript as Markdown: messages as they were written, the rest folded in `<details>`.

The assistant writes Markdown, so its messages are kept verbatim and render as it meant them;
tool calls and outputs go in code fences longer than any run of backticks inside them.
Everything placed inside HTML tags (a `<summary>`) is escaped. For a file to open in a
browser, the HTML format escapes everything.
"""

from __future__ import annotations

import html
import re

from operations.transcript.model import (
    ASSISTANT,
    COMPACTION,
    REASONING,
    TOOL_CALL,
    TOOL_OUTPUT,
    USER,
    Entry,
    Transcript,
)
from operations.transcript.render_common import Sink, display_time, header_facts, label

BACKTICKS = re.compile(r"`+")


def code_span(text: str) -> str:
    text = " ".join(text.splitlines())
    longest = max((len(m) for m in BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text: str) -> str:
    longest = max((len(m) for m in BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def render_markdown(transcript: Transcript, write: Sink) -> int:
    header = transcript.header
    write(f"# {header.title}\n\n")
    for name, value in header_facts(header):
        shown = code_span(value) if name in ("Thread", "Folder", "Forked from", "Rollout") else value
        write(f"- **{name}:** {shown}\n")
    for note in header.notes:
        write(f"- *{note}*\n")
    write("\n---\n")
    count = 0
    for entry in transcript.entries:
        write("\n" + _entry(entry))
        count += 1
    write("\n---\n\n*Transcript written by codex-sessions from the rollout file; tool calls and outputs are "
          "shortened, reasoning is shown only as its summaries.*\n")
    return count


def _when(entry: Entry) -> str:
    return f" · {display_time(entry.time)}" if entry.time else ""


def _inherited(entry: Entry) -> str:
    return f" · *inherited from {code_span(entry.thread)}*" if entry.inherited and entry.thread else ""


def _left_out(entry: Entry) -> str:
    return f"\n\n*({entry.omitted:,} characters left out)*" if entry.omitted and entry.kind in (USER, ASSISTANT,
                                                                                               REASONING) else ""


def _entry(entry: Entry) -> str:
    if entry.kind in (USER, ASSISTANT):
        return f"### {label(entry)}{_when(entry)}{_inherited(entry)}\n\n{entry.text}{_left_out(entry)}\n"
    summary = html.escape(label(entry) + _when(entry) + (" · inherited" if entry.inherited else ""))
    if entry.kind == REASONING:
        return f"<details><summary>{summary}</summary>\n\n{entry.text}{_left_out(entry)}\n\n</details>\n"
    if entry.kind in (TOOL_CALL, TOOL_OUTPUT):
        return f"<details><summary>{summary}</summary>\n\n{fenced(entry.text)}\n\n</details>\n"
    if entry.kind == COMPACTION:
        return (f"> **{label(entry)}**{_when(entry)}{_inherited(entry)}\n\n<details><summary>Summary</summary>\n\n"
                f"{fenced(entry.text)}\n\n</details>\n")
    body = "\n> ".join(entry.text.splitlines() or [""])
    return f"> **{label(entry)}**{_when(entry)}{_inherited(entry)}: {body}\n"
