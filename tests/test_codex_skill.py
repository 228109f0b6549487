"""The skill against the real Codex 0.171: the validator Codex installs into every home accepts it,
the app-server's `skills/list` returns it (also when installed while Codex runs), Codex's agent is
told about it, and what the skill says holds: an agent inside Codex cannot apply a change to the
home Codex runs on (the tool refuses), so the user runs `--apply` with Codex closed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from operations.skill import SKILL_NAME
from tests.codex.harness import AppServer, CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.codexhome import snapshot as rollouts_and_rows
from tests.helpers import cli_json
from tests.test_skill import snapshot

pytestmark = pytest.mark.codex


class AgentAPI(MockResponsesAPI):
    """The model, scripted: asked to recover, it runs the tool's audit, then `fix --apply`
    (which a careful agent would not do without the user's go-ahead: here it tests the tool's refusal)."""

    commands = (f"{sys.executable} -m operations audit --json > /dev/null; echo audit-exit=$?",
                f"{sys.executable} -m operations fix --to-provider mockB --apply --json")

    def events(self, n: int) -> list[dict[str, Any]]:
        with self._lock:
            body = self.requests[-1]["body"]
        items = body.get("input", []) if isinstance(body, dict) else []
        done = sum(1 for item in items if item.get("type") == "function_call_output")
        asked = "RECOVER-PLEASE" in json.dumps(items)
        if not asked or done >= len(self.commands):
            return super().events(n)
        call = {"type": "function_call", "id": f"fc_{n}", "call_id": f"call_{n}", "name": "exec_command",
                "arguments": json.dumps({"cmd": self.commands[done]}), "status": "completed"}
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 12}
        return [{"type": "response.created", "response": {"id": f"resp_{n}"}},
                {"type": "response.output_item.done", "output_index": 0, "item": call},
                {"type": "response.completed", "response": {"id": f"resp_{n}", "usage": usage}}]


@pytest.fixture
def codex(tmp_path: Path, codex_binary_for: Callable[[str], Path]) -> Iterator[CodexSession]:
    with AgentAPI() as api:
        home = tmp_path / "home"
        home.mkdir()
        session = CodexSession(codex_binary_for("0.171.0"), home, api)
        assert str(tmp_path) in session.env()["HOME"]  # conftest points HOME into the test's folder
        session.write_config(current="mockA")
        try:
            yield session
        finally:
            session.close()
        assert session.live_processes() == [], "a Codex process was left running"


def skills_listed(server: AppServer, cwd: Path) -> dict[str, Any]:
    result = server.request("skills/list", {"cwds": [str(cwd)], "forceReload": True})
    (entry,) = result["data"]
    return entry  # type: ignore[no-any-return]


def test_codex_validates_lists_and_forgets_the_skill(codex: CodexSession, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    with AppServer(codex) as server:  # Codex installs its system skills into the home when it starts
        listed = skills_listed(server, proj)
        assert SKILL_NAME not in {s["name"] for s in listed["skills"]}
    validator = codex.home / "skills" / ".system" / "skill-creator" / "scripts" / "quick_validate.py"
    assert validator.is_file()
    before = snapshot(codex.home)
    status, data = cli_json("skill", "install", "--codex-home", str(codex.home))
    assert status == 0 and data["data"]["action"] == "installed"
    folder = codex.home / "skills" / SKILL_NAME
    checked = subprocess.run([sys.executable, str(validator), str(folder)], capture_output=True, text=True,
                             timeout=60, check=False)
    assert checked.returncode == 0 and checked.stdout.strip() == "Skill is valid!", checked
    installed = snapshot(codex.home)
    assert cli_json("skill", "install", "--codex-home", str(codex.home))[1]["data"]["action"] == "unchanged"
    assert snapshot(codex.home) == installed
    status, data = cli_json("skill", "uninstall", "--codex-home", str(codex.home))
    assert status == 0 and snapshot(codex.home) == before  # byte for byte, mtimes and folders too
    with AppServer(codex) as server:
        assert SKILL_NAME not in {s["name"] for s in skills_listed(server, proj)["skills"]}
        status, data = cli_json("skill", "install", "--codex-home", str(codex.home))  # while Codex runs
        assert status == 0
        listed = skills_listed(server, proj)
    ours = [s for s in listed["skills"] if s["name"] == SKILL_NAME]
    assert len(ours) == 1 and not [e for e in listed["errors"] if SKILL_NAME in e["path"]], listed["errors"]
    skill = ours[0]
    interface = yaml.safe_load((folder / "agents" / "openai.yaml").read_text())["interface"]
    assert skill["scope"] == "user" and skill["enabled"]
    assert Path(skill["path"]).resolve() == (folder / "SKILL.md").resolve()
    assert skill["description"].startswith("Find, explain and safely recover Codex sessions")
    assert skill["interface"]["displayName"] == interface["display_name"]
    assert skill["interface"]["shortDescription"] == interface["short_description"]
    assert skill["interface"]["defaultPrompt"] == interface["default_prompt"]


def test_the_agent_sees_the_skill_and_cannot_apply_while_codex_runs(codex: CodexSession, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    hidden = codex.exec("a session made under mockA", proj)
    codex.write_config(current="mockB")
    assert cli_json("skill", "install", "--codex-home", str(codex.home))[0] == 0
    before = rollouts_and_rows(codex.home)
    first = len(codex.api.requests)
    result = codex.run(["exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                        "RECOVER-PLEASE: where did my sessions go?"], cwd=proj)
    assert result.returncode == 0
    requests = codex.api.requests[first:]
    context = json.dumps(requests[0]["body"].get("input", []))
    assert f"- {SKILL_NAME}: Find, explain and safely recover Codex sessions" in context  # Codex told its agent
    outputs = [item["output"] for item in requests[-1]["body"]["input"] if item.get("type") == "function_call_output"]
    assert len(outputs) == 2
    assert "audit-exit=0" in outputs[0]
    refusal = json.loads(outputs[1][outputs[1].index("{"):])
    assert refusal["exit_code"] == 3 and refusal["errors"][0]["code"] == "codex_running"
    after = rollouts_and_rows(codex.home)
    untouched = {k: v for k, v in before["files"].items() if hidden in k}
    assert untouched and all(after["files"][k] == v for k, v in untouched.items())  # not migrated
    journal = codex.home / "codex-sessions" / "journal.jsonl"
    kinds = [json.loads(line)["kind"] for line in journal.read_text().splitlines()] if journal.exists() else []
    assert set(kinds) <= {"genesis"}  # no run began: nothing was planned to be written
