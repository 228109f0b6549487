"""Turn a rollout's records into what a person reads, in order.

Which record says what (learnt from files the real Codex 0.128, 0.169 and 0.171 wrote):

* The words of the user and of the assistant come from the events the Codex UI replays:
  `event_msg` `user_message` / `agent_message` (legacy rollouts) or `item_completed` with a
  `UserMessage` / `AgentMessage` item (paginated rollouts, and legacy ones after `codex
  migrate-rollouts`). The `response_item` messages hold the same words plus the context Codex
  injects (`<environment_context>`, AGENTS.md, skills, permissions) and the answer a compaction
  asked for, so they are used only for a stretch of file that has no such events at all.
* Reasoning summaries, tool calls and their outputs come from `response_item` lines (both
  formats write them; the paginated `item_completed` copies are not read twice). A reasoning
  item's `encrypted_content` is never read.
* `compacted` marks a compaction (with its summary when Codex wrote one); `turn_context` and
  `thread_settings_applied` give the model and the provider, and a change is shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from operations.transcript.lines import Line
from operations.transcript.model import (
    ASSISTANT,
    COMPACTION,
    FORK,
    NOTE,
    REASONING,
    SETTINGS,
    TOOL_CALL,
    TOOL_OUTPUT,
    USER,
    Entry,
    Limits,
)

# Text Codex puts in a user-role message that the user did not type (its own context blocks)
CONTEXT_PREFIXES = ("<environment_context", "<user_instructions>", "# agents.md instructions", "<skills_instructions>",
                    "<skill>", "<user_shell_command>", "<turn_aborted>", "<subagent_notification>",
                    "<codex_internal_context", "<recommended_plugins>", "<hook_prompt", "<context_update>",
                    "<permissions instructions>", "<collaboration_mode>", "<model_switch>", "<personality_spec>")
MESSAGE_EVENTS = ("user_message", "agent_message")
# Before September 2025 a rollout held bare ResponseItems, one a line, with no envelope
BARE_ITEMS = ("message", "reasoning", "function_call", "function_call_output", "custom_tool_call",
              "custom_tool_call_output", "local_shell_call", "web_search_call")
MAX_CALL_NAMES = 4096  # tool calls awaiting their output, remembered to name the output


def shorten(text: str, max_chars: int, max_lines: int) -> tuple[str, int]:
    """`text` cut to its head and tail when longer than the limits; also how many characters were left out."""
    if len(text) <= max_chars and text.count("\n") < max_lines:
        return text, 0
    head = _head(text, max_chars * 3 // 4, max(1, max_lines * 3 // 4))
    rest = text[len(head):]
    tail = _tail(rest, max_chars - len(head), max(1, max_lines - max_lines * 3 // 4))
    omitted = len(rest) - len(tail)
    if omitted <= 0:
        return text, 0
    return f"{head}\n… [{omitted:,} characters left out] …\n{tail}", omitted


def _head(text: str, chars: int, lines: int) -> str:
    cut = text[:chars]
    at = -1
    for _ in range(lines):
        at = cut.find("\n", at + 1)
        if at < 0:
            return cut
    return cut[:at]


def _tail(text: str, chars: int, lines: int) -> str:
    if chars <= 0:
        return ""
    cut = text[-chars:]
    at = len(cut)
    for _ in range(lines):
        at = cut.rfind("\n", 0, at)
        if at < 0:
            return cut
    return cut[at + 1:]


def is_context_message(text: str) -> bool:
    return text.lstrip()[:40].lower().startswith(CONTEXT_PREFIXES)


def has_message_events(lines: Iterable[Line]) -> bool:
    """Whether this stretch of rollout holds the UI's message events (read until the first one)."""
    for line in lines:
        record = line.record
        if record is None or record.get("type") != "event_msg":
            continue
        payload = record.get("payload")
        if not isinstance(payload, dict):
            continue
        if payload.get("type") in MESSAGE_EVENTS:
            return True
        item = payload.get("item")
        if payload.get("type") == "item_completed" and isinstance(item, dict) \
                and item.get("type") in ("UserMessage", "AgentMessage"):
            return True
    return False


@dataclass(slots=True)
class SettingsTrack:
    """The model and provider seen so far, across the inherited and the own history."""

    values: dict[str, str] = field(default_factory=dict)

    def see(self, key: str, value: Any, time: str | None, thread: str, inherited: bool) -> Entry | None:
        if not isinstance(value, str) or not value:
            return None
        before = self.values.get(key)
        self.values[key] = value
        if before is None or before == value:
            return None
        return Entry(SETTINGS, time, f"{before} → {value}", title=key, inherited=inherited, thread=thread)


@dataclass(slots=True)
class CopiedHistory:
    """A legacy fork's file starts with a copy of its parent's history. The copy ends where the
    fork's messages stop matching the parent's, in order (compared by digest, so only 20 bytes
    a message are held)."""

    parent: str
    keys: list[bytes]
    at: int = 0
    active: bool = True

    def matches(self, entry: Entry) -> bool:
        if self.at < len(self.keys) and message_key(entry) == self.keys[self.at]:
            self.at += 1
            return True
        return False


def message_key(entry: Entry) -> bytes:
    return hashlib.sha1(f"{entry.kind}\0{entry.text}".encode("utf-8", "surrogatepass"), usedforsecurity=False).digest()


@dataclass(slots=True)
class Segment:
    """One stretch of one rollout to read: a thread's own file, or a parent's inherited bytes."""

    thread: str
    inherited: bool
    messages_from_items: bool  # no message events here: take the words from response_item messages
    limits: Limits
    settings: SettingsTrack
    copied: CopiedHistory | None = None
    call_names: dict[str, str] = field(default_factory=dict)


def segment_entries(lines: Iterable[Line], seg: Segment) -> Iterator[Entry]:
    damaged = 0
    first = True
    for line in lines:
        if line.record is None:
            if line.problem == "truncated_stream":
                yield Entry(NOTE, None, "The rest of this rollout could not be decompressed; the transcript stops "
                            "here.", title="Rollout cut short", inherited=seg.inherited, thread=seg.thread)
                break
            damaged += 1
            continue
        record = line.record
        kind = record.get("type")
        payload = record.get("payload")
        time = record.get("timestamp") if isinstance(record.get("timestamp"), str) else None
        if payload is None and kind in BARE_ITEMS:  # the pre-September-2025 format
            kind, payload, time = "response_item", record, None
        if not isinstance(payload, dict):
            first = False
            continue
        if kind == "session_meta":
            if first:  # the segment's own meta; later ones are copies a fork carries
                change = seg.settings.see("provider", payload.get("model_provider"), time, seg.thread, seg.inherited)
                if change:
                    yield change
            first = False
            continue
        first = False
        for entry in _record_entries(kind, payload, time, seg):
            yield from _placed(entry, seg)
    if damaged:
        yield Entry(NOTE, None, f"{damaged} line(s) of this rollout could not be read and were skipped.",
                    title="Damaged lines", inherited=seg.inherited, thread=seg.thread)
    if seg.copied is not None and seg.copied.active:
        seg.copied.active = False
        yield Entry(FORK, None, "The fork has no messages of its own yet.", title="Forked", thread=seg.thread)


def _placed(entry: Entry, seg: Segment) -> Iterator[Entry]:
    """The entry as it belongs: inherited while a legacy fork's copied history lasts."""
    copied = seg.copied
    if copied is None or not copied.active:
        yield entry
        return
    if entry.kind in (USER, ASSISTANT) and not copied.matches(entry):
        copied.active = False
        yield Entry(FORK, entry.time, f"This session was forked from {copied.parent} here; what follows is its own.",
                    title="Forked", thread=seg.thread)
        yield entry
        return
    yield Entry(entry.kind, entry.time, entry.text, entry.title, entry.call_id, entry.omitted, True, copied.parent)


def _record_entries(kind: Any, payload: dict[str, Any], time: str | None, seg: Segment) -> Iterator[Entry]:
    if kind == "event_msg":
        yield from _event(payload, time, seg)
    elif kind == "response_item":
        yield from _response_item(payload, time, seg)
    elif kind == "turn_context":
        change = seg.settings.see("model", payload.get("model"), time, seg.thread, seg.inherited)
        if change:
            yield change
    elif kind == "compacted":
        summary = payload.get("message") if isinstance(payload.get("message"), str) else ""
        text, omitted = shorten(summary, seg.limits.summary_chars, 10**9) if summary else (
            "Codex replaced the earlier history by a summary (held by the provider, not in the rollout).", 0)
        yield _entry(COMPACTION, time, text, seg, title="Context compacted", omitted=omitted)


def _entry(kind: str, time: str | None, text: str, seg: Segment, *, title: str = "", call_id: str | None = None,
           omitted: int = 0) -> Entry:
    return Entry(kind, time, text, title, call_id, omitted, seg.inherited, seg.thread)


def _message(kind: str, time: str | None, text: str, seg: Segment) -> Entry:
    cap = seg.limits.message_chars
    return _entry(kind, time, text[:cap], seg, omitted=max(0, len(text) - cap))


def _event(payload: dict[str, Any], time: str | None, seg: Segment) -> Iterator[Entry]:
    event = payload.get("type")
    if event == "user_message" and not seg.messages_from_items:
        text = payload.get("message") if isinstance(payload.get("message"), str) else ""
        extras = _attachments(payload)
        yield _message(USER, time, "\n".join(p for p in (text, *extras) if p), seg)
    elif event == "agent_message" and not seg.messages_from_items:
        text = payload.get("message")
        if isinstance(text, str):
            yield _message(ASSISTANT, time, text, seg)
    elif event == "item_completed" and not seg.messages_from_items:
        item = payload.get("item")
        if isinstance(item, dict) and item.get("type") in ("UserMessage", "AgentMessage"):
            text = _item_text(item.get("content"))
            yield _message(USER if item["type"] == "UserMessage" else ASSISTANT, time, text, seg)
    elif event == "thread_settings_applied":
        settings = payload.get("thread_settings")
        if isinstance(settings, dict):
            for key, field_name in (("model", "model"), ("provider", "model_provider_id")):
                change = seg.settings.see(key, settings.get(field_name), time, seg.thread, seg.inherited)
                if change:
                    yield change
    elif event == "turn_aborted":
        reason = payload.get("reason")
        yield _entry(NOTE, time, f"The turn was interrupted ({reason})." if isinstance(reason, str)
                     else "The turn was interrupted.", seg, title="Interrupted")
    elif event == "thread_rolled_back":
        turns = payload.get("num_turns")
        yield _entry(NOTE, time, f"The last {turns} turn(s) were rolled back; Codex no longer sends them to the model."
                     if isinstance(turns, int) else "Turns were rolled back.", seg, title="Rolled back")


def _attachments(payload: dict[str, Any]) -> list[str]:
    """Images as a line each: `[image]` for inline data (never copied), the path of a local one."""
    out = []
    images = payload.get("images")
    if isinstance(images, list) and images:
        out.append(f"[{len(images)} image(s) attached]")
    local = payload.get("local_images")
    if isinstance(local, list):
        out += [f"[image: {p}]" for p in local if isinstance(p, str)]
    return out


def _item_text(content: Any) -> str:
    """The text of a UserMessage/AgentMessage item's content list; images and skills named, not copied."""
    if not isinstance(content, list):
        return ""
    parts = []
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if isinstance(part.get("text"), str):
            parts.append(part["text"])
        elif kind in ("image", "Image"):
            parts.append("[image attached]")
        elif kind in ("localImage", "LocalImage") and isinstance(part.get("path"), str):
            parts.append(f"[image: {part['path']}]")
        elif isinstance(part.get("name"), str):
            parts.append(f"[{kind}: {part['name']}]")
    return "\n".join(parts)


def _response_item(payload: dict[str, Any], time: str | None, seg: Segment) -> Iterator[Entry]:
    item = payload.get("type")
    limits = seg.limits
    if item == "message":
        if not seg.messages_from_items:
            return
        role = payload.get("role")
        text = _content_text(payload.get("content"))
        if role == "user" and text and not is_context_message(text):
            yield _message(USER, time, text, seg)
        elif role == "assistant" and text:
            yield _message(ASSISTANT, time, text, seg)
    elif item == "reasoning":
        summary = payload.get("summary")
        texts = [s.get("text") for s in summary if isinstance(s, dict)] if isinstance(summary, list) else []
        text = "\n\n".join(t for t in texts if isinstance(t, str) and t.strip())
        if text:
            yield _entry(REASONING, time, text[:limits.reasoning_chars], seg,
                         omitted=max(0, len(text) - limits.reasoning_chars))
    elif item in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call", "tool_search_call"):
        name, shown = _call(item, payload)
        call_id = payload.get("call_id") or payload.get("id")
        call_id = call_id if isinstance(call_id, str) else None
        if call_id and len(seg.call_names) < MAX_CALL_NAMES:
            seg.call_names[call_id] = name
        text, omitted = shorten(shown, limits.tool_input_chars, limits.tool_input_lines)
        yield _entry(TOOL_CALL, time, text, seg, title=name, call_id=call_id, omitted=omitted)
    elif item in ("function_call_output", "custom_tool_call_output", "tool_search_output"):
        call_id = payload.get("call_id") if isinstance(payload.get("call_id"), str) else None
        name = seg.call_names.pop(call_id, "") if call_id else ""
        text, omitted = shorten(_output_text(payload).rstrip("\n"), limits.tool_output_chars, limits.tool_output_lines)
        yield _entry(TOOL_OUTPUT, time, text, seg, title=name, call_id=call_id, omitted=omitted)
    elif item == "image_generation_call":
        yield _entry(NOTE, time, "An image was generated (not copied into the transcript).", seg, title="Image")


def _content_text(content: Any) -> str:
    if not isinstance(content, list):
        return ""
    return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))


def _call(item: str, payload: dict[str, Any]) -> tuple[str, str]:
    """(tool name, what it was asked) for each kind of call."""
    raw_action = payload.get("action")
    action: dict[str, Any] = raw_action if isinstance(raw_action, dict) else {}
    if item == "local_shell_call":
        return "shell", _command(action.get("command"))
    if item == "web_search_call":
        what = action.get("query") or action.get("url") or action.get("pattern") or ""
        return "web_search", str(what)
    raw_name = payload.get("name")
    name = raw_name if isinstance(raw_name, str) else item
    if item == "custom_tool_call":
        return name, str(payload.get("input") or "")
    arguments = payload.get("arguments")
    if not isinstance(arguments, str):
        return name, "" if arguments is None else _json(arguments)
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return name, arguments
    if isinstance(parsed, dict):
        for key in ("cmd", "command"):
            if key in parsed:
                rest = {k: v for k, v in parsed.items() if k not in (key, "workdir", "yield_time_ms",
                                                                   "max_output_tokens", "timeout_ms")}
                shown = _command(parsed[key])
                return name, shown if not rest else f"{shown}\n{_json(rest)}"
    return name, _json(parsed)


def _command(command: Any) -> str:
    if isinstance(command, list):
        parts = [str(p) for p in command]
        if len(parts) == 3 and parts[1] in ("-lc", "-c") and parts[0].endswith(("sh", "bash", "zsh")):
            return parts[2]  # bash -lc "…": the script is what was asked
        return " ".join(parts)
    return str(command) if command is not None else ""


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()


def _output_text(payload: dict[str, Any]) -> str:
    output = payload.get("output")
    if output is None and "tools" in payload:
        tools = payload.get("tools")
        return f"{len(tools)} tool(s) found" if isinstance(tools, list) else ""
    if isinstance(output, dict):  # older rollouts: {"content": …, "success": …}
        output = output.get("content", output)
    if isinstance(output, list):
        texts = []
        for part in output:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, dict) and "image" in str(part.get("type", "")):
                texts.append("[image]")
        return "\n".join(texts)
    return output if isinstance(output, str) else _json(output)
