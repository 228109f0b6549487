"""Transcripts of sessions the real Codex made: 0.171 `codex exec` sessions (one with a reasoning
summary and a real tool call, a fork made with `codex exec fork`, an archived one, one of another
provider, an orphan), rollouts compressed with zstandard as Codex's cold storage does (level 3,
mtime kept; done here by the test, since Codex compresses only rollouts older than 7 days),
and 0.128 legacy sessions before and after 0.171's `codex migrate-rollouts --apply`, with a
0.171 fork of one (which copies the legacy history into the fork's file).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from tests.codex.harness import CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.helpers import cli
from tests.transcript_helpers import check_safe_page

pytestmark = pytest.mark.codex

EVIL = 'look at <script>alert(1)</script> and <img src="https://evil.example/x.png"> please'
TOOL_PROMPT = "TOOL-PLEASE count to 500"
ENCRYPTED = "gAAAA-ENCRYPTED-REASONING-BLOB"


class ScriptedAPI(MockResponsesAPI):
    """The loopback API, plus: when the newest user message asks for a tool, a reasoning item
    (summary and encrypted content) and an `exec_command` call come first; the answer after."""

    def events(self, n: int) -> list[dict[str, Any]]:
        with self._lock:
            body = self.requests[-1]["body"]
        items = body.get("input", []) if isinstance(body, dict) else []
        asked = max((i for i, item in enumerate(items) if item.get("type") == "message" and item.get("role") == "user"
                     and TOOL_PROMPT in json.dumps(item.get("content"))), default=-1)
        answered = any(item.get("type") == "function_call_output" for item in items[asked + 1:])
        if asked < 0 or answered or asked < len(items) - 1:
            return super().events(n)
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
                 "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 12}
        calls = [{"type": "reasoning", "id": f"rs_{n}", "summary": [
                     {"type": "summary_text", "text": "**Counting** with seq"}], "encrypted_content": ENCRYPTED},
                 {"type": "function_call", "id": f"fc_{n}", "call_id": f"call_{n}", "name": "exec_command",
                  "arguments": json.dumps({"cmd": "seq 1 500"}), "status": "completed"}]
        return [{"type": "response.created", "response": {"id": f"resp_{n}"}},
                *({"type": "response.output_item.done", "output_index": k, "item": item}
                  for k, item in enumerate(calls)),
                {"type": "response.completed", "response": {"id": f"resp_{n}", "usage": usage}}]


@dataclass
class IsolatedCodex(CodexSession):
    """A Codex whose HOME, like its CODEX_HOME, is inside the test's temporary folder."""

    user_home: Path | None = None

    def env(self) -> dict[str, str]:
        env = super().env()
        assert self.user_home is not None
        env["HOME"] = str(self.user_home)
        return env

    def fork(self, thread_id: str, prompt: str, cwd: Path) -> str:
        result = self.run(["exec", "--skip-git-repo-check", "fork", thread_id, prompt], cwd=cwd)
        for line in (result.stderr + result.stdout).splitlines():
            if line.startswith("session id:"):
                return line.split(":", 1)[1].strip()
        raise AssertionError(f"no session id in fork output: {result.stderr[-800:]}")


def compress(path: Path) -> Path:
    """As Codex's cold storage: zstd level 3 beside the file, mtime kept, the plain file removed."""
    target = Path(str(path) + ".zst")
    target.write_bytes(zstandard.ZstdCompressor(level=3).compress(path.read_bytes()))
    st = path.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    path.unlink()
    return target


@dataclass
class Homes:
    main: Path  # 0.171, provider mockA
    legacy_before: Path  # 0.128 sessions as 0.128 wrote them
    legacy_after: Path  # the same after 0.171's migrate-rollouts, plus a 0.171 fork of one
    ids: dict[str, str]
    prompts: dict[str, list[str]]


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory, codex_binary_for: Callable[[str], Path]) -> Homes:
    root = tmp_path_factory.mktemp("codex-transcripts")
    user_home = root / "user-home"
    user_home.mkdir()
    ids: dict[str, str] = {}
    prompts: dict[str, list[str]] = {}
    sessions: list[IsolatedCodex] = []
    with ScriptedAPI(reply="Done: **all** <b>good</b>.") as api:

        def codex(version: str, name: str, current: str = "mockA") -> IsolatedCodex:
            (root / name).mkdir()
            session = IsolatedCodex(codex_binary_for(version), root / name, api, user_home=user_home)
            session.write_config(current=current)
            sessions.append(session)
            return session

        try:
            main = codex("0.171.0", "main")
            proj = root / "proj"
            ids["plain"] = main.exec(EVIL, proj)
            main.resume(ids["plain"], "second message", proj)
            main.resume(ids["plain"], TOOL_PROMPT, proj)
            ids["fork"] = main.fork(ids["plain"], "forked prompt", proj)
            main.resume(ids["plain"], "after the fork", proj)
            prompts["plain"] = [EVIL, "second message", TOOL_PROMPT, "after the fork"]
            prompts["fork"] = [EVIL, "second message", TOOL_PROMPT, "forked prompt"]
            ids["zparent"] = main.exec("a parent to compress", proj)
            ids["zfork"] = main.fork(ids["zparent"], "fork of a compressed parent", proj)
            prompts["zparent"] = ["a parent to compress"]
            prompts["zfork"] = ["a parent to compress", "fork of a compressed parent"]
            ids["archived"] = main.exec("to be archived", proj)
            main.archive(ids["archived"])
            prompts["archived"] = ["to be archived"]
            main.write_config(current="mockB")
            ids["other"] = main.exec("made under mockB", proj)
            prompts["other"] = ["made under mockB"]
            main.write_config(current="mockA")
            elsewhere = codex("0.171.0", "elsewhere")
            ids["orphan"] = elsewhere.exec("made in another home", proj)
            prompts["orphan"] = ["made in another home"]
            old = codex("0.128.0", "legacy")
            ids["legacy"] = old.exec("legacy first", proj)
            old.resume(ids["legacy"], "legacy second", proj)
            prompts["legacy"] = ["legacy first", "legacy second"]
            old.close()
            shutil.copytree(old.home, root / "legacy-before", symlinks=True)
            new = codex("0.171.0", "legacy-new")
            new.home = old.home  # 0.171 opens the 0.128 home
            new.write_config(current="mockA")
            ids["legacy_fork"] = new.fork(ids["legacy"], "fork of a legacy session", proj)
            prompts["legacy_fork"] = ["legacy first", "legacy second", "fork of a legacy session"]
            migrated = new.run(["migrate-rollouts", "--apply"])
            assert "2 migrated" in migrated.stdout, migrated.stdout  # the legacy session and its fork
        finally:
            for session in sessions:
                session.close()
        for session in sessions:
            assert session.live_processes() == [], "a Codex process was left running"
    # Codex has stopped: compress as its cold storage would, and copy the orphan in
    (zparent,) = (root / "main" / "sessions").rglob(f"*{ids['zparent']}.jsonl")
    compress(zparent)
    (archived,) = (root / "main" / "archived_sessions").rglob(f"*{ids['archived']}.jsonl")
    compress(archived)
    (orphan,) = (root / "elsewhere" / "sessions").rglob(f"*{ids['orphan']}.jsonl")
    target = root / "main" / orphan.relative_to(root / "elsewhere")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(orphan, target)
    return Homes(root / "main", root / "legacy-before", root / "legacy", ids, prompts)


def transcript(home: Path, thread: str, fmt: str = "json") -> str:
    result = cli("transcript", thread, "--codex-home", str(home), "-f", fmt)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def structured(home: Path, thread: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    data = orjson.loads(transcript(home, thread))
    return data["header"], data["entries"]


def users(items: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in items if e["kind"] == "user"]


def in_order(text: str, parts: list[str]) -> bool:
    at = 0
    for part in parts:
        found = text.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return True


def tree(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (p.read_bytes().hex() if p.is_file() else "dir", p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if not p.name.endswith(("-wal", "-shm"))}


def test_every_kind_of_session_reads_in_order_in_every_format(homes: Homes) -> None:
    before = tree(homes.main)
    for kind in ("plain", "fork", "zparent", "zfork", "archived", "other", "orphan"):
        header, items = structured(homes.main, homes.ids[kind])
        assert users(items) == homes.prompts[kind], kind
        assert all(e["text"] == "Done: **all** <b>good</b>." for e in items if e["kind"] == "assistant"), kind
        assert header["model"] == "gpt-5" and header["history_mode"] == "paginated", kind
        markdown = transcript(homes.main, homes.ids[kind], "markdown")
        assert in_order(markdown, homes.prompts[kind]), kind
        page = transcript(homes.main, homes.ids[kind], "html")
        parsed = check_safe_page(page, *homes.prompts[kind])
        assert in_order("".join(parsed.text), homes.prompts[kind]), kind
    assert tree(homes.main) == before  # transcript only reads


def test_hidden_sessions_say_why_they_are_hidden(homes: Homes) -> None:
    header, _ = structured(homes.main, homes.ids["archived"])
    assert header["archived"] and header["has_row"] and header["compressed"]
    assert header["location"] == "archived" and header["rollout_path"].endswith(".jsonl.zst")
    header, _ = structured(homes.main, homes.ids["orphan"])
    assert not header["has_row"] and not header["archived"]
    assert any("orphan" in note for note in header["notes"])
    header, _ = structured(homes.main, homes.ids["other"])
    assert header["provider"] == "mockB"


def test_tool_call_reasoning_summary_and_never_the_encrypted_reasoning(homes: Homes) -> None:
    _header, items = structured(homes.main, homes.ids["plain"])
    kinds = [e["kind"] for e in items]
    at = kinds.index("reasoning")
    assert kinds[at:at + 4] == ["reasoning", "tool_call", "tool_output", "assistant"]
    reasoning, call, output = items[at:at + 3]
    assert reasoning["text"] == "**Counting** with seq"
    assert call["title"] == "exec_command" and call["text"] == "seq 1 500"
    assert output["title"] == "exec_command" and output["omitted"] > 0  # 500 lines: folded and shortened
    assert "\n1\n2\n3\n" in output["text"] and output["text"].endswith("499\n500")
    for fmt in ("json", "markdown", "html"):
        assert ENCRYPTED not in transcript(homes.main, homes.ids["plain"], fmt)
    page = transcript(homes.main, homes.ids["plain"], "html")
    assert "<details class=\"tool\"><summary>Tool call <code>exec_command</code>" in page


def test_a_fork_reads_its_parent_up_to_the_fork_even_compressed(homes: Homes) -> None:
    for fork, parent in (("fork", "plain"), ("zfork", "zparent")):
        header, items = structured(homes.main, homes.ids[fork])
        assert header["fork_kind"] == "history_base" and header["forked_from"] == homes.ids[parent]
        own = homes.prompts[fork][-1]
        assert [e["text"] for e in items if e["kind"] == "user" and e.get("inherited")] == homes.prompts[fork][:-1]
        assert [e["thread"] for e in items if e["kind"] == "user"][-1] == homes.ids[fork]
        titles = [e["title"] for e in items if e["kind"] == "fork"]
        assert titles == ["Inherited history", "Forked"]
        assert users(items)[-1] == own and "after the fork" not in users(items)


def test_legacy_sessions_before_and_after_migrate_rollouts(homes: Homes) -> None:
    legacy = homes.ids["legacy"]
    header_before, before = structured(homes.legacy_before, legacy)
    header_after, after = structured(homes.legacy_after, legacy)
    assert header_before["history_mode"] == "legacy" and header_after["history_mode"] == "paginated"
    assert users(before) == users(after) == homes.prompts["legacy"]
    assert [(e["kind"], e["text"]) for e in before] == [(e["kind"], e["text"]) for e in after]
    header, items = structured(homes.legacy_after, homes.ids["legacy_fork"])
    assert header["fork_kind"] == "copied" and header["forked_from"] == legacy
    assert users(items) == homes.prompts["legacy_fork"]
    inherited = [e["text"] for e in items if e["kind"] == "user" and e.get("inherited")]
    assert inherited == homes.prompts["legacy"]  # Codex copied them into the fork's file
    assert [e["title"] for e in items if e["kind"] == "fork"] == ["Copied history", "Forked"]
