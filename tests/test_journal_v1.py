"""Format 2 reads format 1. A journal written by the release before format 2 (whole-line
`line_rewrite` effects, v=1) still verifies, lists, shows, undoes and redoes, byte for byte.
The v1 journal is written by that release's own code, taken from git history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from fixtures.generator import HomeSpec, build_home
from tests.codexhome import snapshot, undo
from tests.helpers import cli, cli_json

REPO = Path(__file__).resolve().parents[1]
LAST_V1_RELEASE = "642e68c"  # the last commit whose journal wrote format 1


def _v1_code(tmp_path: Path) -> Path:
    out = tmp_path / "v1"
    out.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", LAST_V1_RELEASE, "journal", "operations"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def test_a_format_1_journal_is_read_undone_and_redone_byte_for_byte(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", HomeSpec(version="0.169.0", sessions=6, providers=("openai",),
                                                   archived_share=0.0, exec_share=0.0, turns=2, seed=8))
    before = snapshot(built.root)
    env = {**os.environ, "PYTHONPATH": str(_v1_code(tmp_path)), "CODEX_HOME": str(built.root)}
    written = subprocess.run([sys.executable, "-c", "from operations.cli.app import main; main()", "run",
                              "migrate-provider", "--apply", "--json"], env=env, capture_output=True, text=True,
                             check=False, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    run_id = orjson.loads(written.stdout)["data"]["run"]
    applied = snapshot(built.root)
    journal = built.root / "codex-sessions" / "journal.jsonl"
    records = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    assert {r["v"] for r in records} == {1}
    assert any(e["kind"] == "line_rewrite" for r in records if r["kind"] == "intent" for e in r["effects"])

    code, verified = cli_json("verify", "--codex-home", str(built.root))
    assert code == 0 and verified["data"]["ok"]
    assert run_id in cli("log", "--codex-home", str(built.root)).stdout
    shown = cli("show", run_id, "--codex-home", str(built.root)).stdout
    # a format-1 whole-line rewrite is shown as the value that changed, like format 2
    assert "line 1 of" in shown and 'payload.model_provider: "openai" -> "azure"' in shown, shown

    code, undone = undo(built.root, run_id)
    assert code == 0, undone
    assert snapshot(built.root) == before
    code, redone = cli_json("redo", undone["data"]["run"], "--apply", "--codex-home", str(built.root))
    assert code == 0, redone
    assert snapshot(built.root) == applied
    records = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    assert {r["v"] for r in records} == {1, 2}  # one journal, both formats, one chain
    assert cli_json("verify", "--codex-home", str(built.root))[1]["data"]["ok"]
