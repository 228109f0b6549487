"""Rollouts for transcript tests, shaped like the lines real Codex 0.171 writes (captured from
`codex exec` against the loopback API: a reasoning item with a summary and encrypted content, an
`exec_command` call and its output, `item_completed` messages, `compacted`, a fork's
`history_base`), and an HTML parser that records what a browser would build."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson

THREAD = "01a22c15-6a0c-7220-9e5f-{:012x}"


def thread_id(n: int) -> str:
    return THREAD.format(n)


def rollout_name(tid: str, second: int = 0) -> str:
    return f"rollout-2026-11-30T10-00-{second:02d}-{tid}.jsonl"


@dataclass
class Rollout:
    """One thread's lines, paginated (with `ordinal`) unless `legacy`."""

    tid: str
    cwd: str = "/home/u/proj"
    provider: str = "mockA"
    legacy: bool = False
    lines: list[dict[str, Any]] = field(default_factory=list)
    clock: int = 0
    ordinal: int = 0

    def _ts(self) -> str:
        self.clock += 1
        return f"2026-11-30T10:{self.clock // 60 % 60:02d}:{self.clock % 60:02d}.{self.clock % 1000:03d}Z"

    def add(self, kind: str, payload: dict[str, Any]) -> Rollout:
        line: dict[str, Any] = {"timestamp": self._ts()}
        if not self.legacy:
            line["ordinal"] = self.ordinal
        line.update({"type": kind, "payload": payload})
        self.ordinal += 1
        self.lines.append(line)
        return self

    def meta(self, **extra: Any) -> Rollout:
        payload = {"session_id": self.tid, "id": self.tid, "timestamp": "2026-11-30T10:00:00.000Z", "cwd": self.cwd,
                   "originator": "codex_exec", "cli_version": "0.171.0", "source": "exec", "thread_source": "user",
                   "model_provider": self.provider, "base_instructions": {"text": "You are Codex."},
                   **({} if self.legacy else {"history_mode": "paginated"}),
                   "git": {"commit_hash": "d4e1c0ffee", "branch": "feature/secret-branch",
                           "repository_url": "https://example.com/u/p.git"}, **extra}
        return self.add("session_meta", payload)

    def turn_context(self, model: str = "gpt-5") -> Rollout:
        return self.add("turn_context", {"turn_id": "t", "cwd": self.cwd, "model": model, "summary": "auto"})

    def context_message(self) -> Rollout:
        return self.add("response_item", {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": f"<environment_context>\n  <cwd>{self.cwd}</cwd>\n</environment_context>"}]})

    def user(self, text: str) -> Rollout:
        self.add("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text",
                                                                                   "text": text}]})
        if self.legacy:
            return self.add("event_msg", {"type": "user_message", "message": text, "images": [], "local_images": []})
        return self.add("event_msg", {"type": "item_completed", "thread_id": self.tid, "turn_id": "t", "item": {
            "type": "UserMessage", "id": "u", "content": [{"type": "text", "text": text, "text_elements": []}]}})

    def assistant(self, text: str) -> Rollout:
        if self.legacy:
            self.add("event_msg", {"type": "agent_message", "message": text, "phase": None})
        else:
            self.add("event_msg", {"type": "item_completed", "thread_id": self.tid, "turn_id": "t", "item": {
                "type": "AgentMessage", "id": "m", "content": [{"type": "Text", "text": text}]}})
        return self.add("response_item", {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": text, "annotations": []}]})

    def reasoning(self, summary: str, secret: str) -> Rollout:
        return self.add("response_item", {"type": "reasoning", "id": "rs_1", "summary": [
            {"type": "summary_text", "text": summary}], "content": None, "encrypted_content": secret})

    def tool(self, command: str, output: str, call_id: str = "call_1") -> Rollout:
        self.add("response_item", {"type": "function_call", "id": "fc_1", "name": "exec_command",
                                   "arguments": orjson.dumps({"cmd": command}).decode(), "call_id": call_id})
        return self.add("response_item", {"type": "function_call_output", "call_id": call_id, "output": output})

    def compacted(self, summary: str) -> Rollout:
        return self.add("compacted", {"message": summary, "replacement_history": []})

    def data(self) -> bytes:
        return b"".join(orjson.dumps(line) + b"\n" for line in self.lines)

    def write(self, home: Path, second: int = 0, folder: str = "sessions/2026/11/30") -> Path:
        path = home / folder / rollout_name(self.tid, second)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.data())
        return path


def make_home(root: Path) -> Path:
    home = root / "home"
    (home / "sessions").mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('model_provider = "mockA"\n[model_providers.mockA]\nname = "mockA"\n')
    return home


class PageParser(HTMLParser):
    """What a browser would build from the page: every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def tag_names(self) -> set[str]:
        return {t for t, _ in self.tags}

    def attribute_values(self) -> list[str]:
        return [v or "" for _, attrs in self.tags for _, v in attrs]


def parse_page(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def check_safe_page(page: str, *needles: str) -> PageParser:
    """The page loads nothing and runs nothing: no script, no element that fetches (img, link,
    iframe, …), no URL in any attribute; every needle shows as text."""
    parsed = parse_page(page)
    assert "script" not in parsed.tag_names
    assert not parsed.tag_names & {"img", "link", "iframe", "object", "embed", "a", "video", "audio", "source",
                                    "base", "form", "svg"}
    for value in parsed.attribute_values():
        assert "http:" not in value and "https:" not in value and "//" not in value, value
    text = "".join(parsed.text)
    for needle in needles:
        assert needle in text, needle
    return parsed
