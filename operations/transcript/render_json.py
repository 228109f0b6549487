"""The transcript as data: `{"format", "version", "header", "entries": […]}`, written entry by entry."""

from __future__ import annotations

from typing import Any

import orjson

from operations.transcript.model import Header, Transcript
from operations.transcript.render_common import Sink

FORMAT = "codex-sessions-transcript"
VERSION = 1


def header_data(header: Header) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "header": header.to_json()}


def render_entries_json(transcript: Transcript, write: Sink) -> int:
    """`[ … ]` of the entries, one a line."""
    count = 0
    write("[")
    for entry in transcript.entries:
        write(("\n" if count == 0 else ",\n") + orjson.dumps(entry.to_json()).decode())
        count += 1
    write("\n]" if count else "]")
    return count


def render_json(transcript: Transcript, write: Sink) -> int:
    head = orjson.dumps(header_data(transcript.header)).decode()
    write(head[:-1] + ',"entries":')
    count = render_entries_json(transcript, write)
    write("}\n")
    return count
