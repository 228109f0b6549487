"""Format 3 reads formats 1 and 2. A journal written by the last release of each earlier format
(whole-line `line_rewrite` effects, v=1; `line_splice` effects, v=2) still verifies, lists,
shows, undoes and redoes, byte for byte. Each old journal is written by that release's own
code, taken from git history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from fixtures.generator import HomeSpec, build_home
from tests.codexhome import snapshot, undo
from tests.helpers import cli, cli_json

REPO = Path(__file__).resolve().parents[1]
# the last commit whose journal wrote each format, and the kind of line edit it wrote
LAST_RELEASES = {1: ("642e68c", "line_rewrite"), 2: ("e65ba99", "line_splice")}


def _old_code(tmp_path: Path, commit: str) -> Path:
    out = tmp_path / "old"
    out.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "journal", "operations"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


@pytest.mark.parametrize("version", sorted(LAST_RELEASES))
def test_an_older_format_journal_is_read_undone_and_redone_byte_for_byte(tmp_path: Path, version: int) -> None:
    commit, edit_kind = LAST_RELEASES[version]
    built = build_home(tmp_path / "home", HomeSpec(version="0.169.0", sessions=6, providers=("openai",),
                                                   archived_share=0.0, exec_share=0.0, turns=2, seed=8))
    before = snapshot(built.root)
    env = {**os.environ, "PYTHONPATH": str(_old_code(tmp_path, commit)), "CODEX_HOME": str(built.root)}
    written = subprocess.run([sys.executable, "-c", "from operations.cli.app import main; main()", "run",
                              "migrate-provider", "--apply", "--json"], env=env, capture_output=True, text=True,
                             check=False, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    run_id = orjson.loads(written.stdout)["data"]["run"]
    applied = snapshot(built.root)
    journal = built.root / "codex-sessions" / "journal.jsonl"
    records = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    assert {r["v"] for r in records} == {version}
    assert any(e["kind"] == edit_kind for r in records if r["kind"] == "intent" for e in r["effects"])

    code, verified = cli_json("verify", "--codex-home", str(built.root))
    assert code == 0 and verified["data"]["ok"]
    assert run_id in cli("log", "--codex-home", str(built.root)).stdout
    shown = cli("show", run_id, "--codex-home", str(built.root)).stdout
    # an old whole-line rewrite or splice is shown as the value that changed, like format 3
    assert "line 1 of" in shown and 'payload.model_provider: "openai" -> "azure"' in shown, shown

    code, undone = undo(built.root, run_id)
    assert code == 0, undone
    assert snapshot(built.root) == before
    code, redone = cli_json("redo", undone["data"]["run"], "--apply", "--codex-home", str(built.root))
    assert code == 0, redone
    assert snapshot(built.root) == applied
    records = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    assert {r["v"] for r in records} == {version, 3}  # one journal, both formats, one chain
    assert cli_json("verify", "--codex-home", str(built.root))[1]["data"]["ok"]
