"""`fix`: one command that plans every phase a home needs, predicts what Codex will list,
applies it as one run, reports before and after, and is undone whole."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from fixtures.generator import BuiltHome, HomeSpec, build_home, sample_spec
from journal.store import JournalWriter
from tests.codexhome import audit, snapshot, undo
from tests.helpers import cli, cli_json, fixed_services


def _fix(home: Path, *args: str) -> tuple[int, dict[str, Any]]:
    return cli_json("fix", "--codex-home", str(home), *args)


def _sample(tmp_path: Path) -> BuiltHome:
    return build_home(tmp_path / "home", sample_spec())


def test_the_dry_run_predicts_what_the_apply_leaves_and_undo_takes_it_back_whole(tmp_path: Path) -> None:
    built = _sample(tmp_path)
    before = snapshot(built.root)
    code, dry = _fix(built.root, "--unarchive")
    assert code == 0 and dry["data"]["dry_run"] and dry["data"]["apply_refused"] == []
    phases = {p["phase"]: p["operations"] for p in dry["data"]["phases"]}
    assert list(phases) == ["repair-paths", "import-orphans", "migrate-provider", "unarchive"]
    assert phases["migrate-provider"] > 0 and phases["import-orphans"] == 2
    assert snapshot(built.root) == before  # a dry run writes nothing
    code, applied = _fix(built.root, "--unarchive", "--apply")
    assert code == 0, applied
    after = audit(built.root)
    for client, predicted in dry["data"]["predicted"].items():
        assert after["visibility"][client]["hidden"] == predicted["hidden"], client
        assert after["visibility"][client]["by_reason"] == predicted["by_reason"], client
    report = applied["data"]["report"]
    assert report["before"]["ide_listed"] < report["after"]["ide_listed"] == after["visibility"]["ide"]["listed"]
    assert report["integrity_delta"]["disk_not_in_db"] == [2, 0]
    assert report["after"]["providers"] == after["distribution"]["model_provider"]
    assert applied["data"]["backups"] and applied["data"]["undo"].startswith("codex-sessions undo ")
    code, undone = undo(built.root, applied["data"]["run"])
    assert code == 0, undone
    assert snapshot(built.root) == before


def test_forget_missing_leaves_the_check_clean_and_undo_brings_the_rows_back(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", HomeSpec(sessions=6, archived_share=0.0, exec_share=0.0, seed=4,
                                                   providers=("openai",), damage={"missing_file": 2}))
    assert cli("audit", "--codex-home", str(built.root), "--check").exit_code == 4
    steps = audit(built.root)["next_steps"]
    assert any("codex-sessions fix --forget-missing" in s for s in steps), steps
    before = snapshot(built.root)
    code, applied = _fix(built.root, "--forget-missing", "--apply")
    assert code == 0, applied
    assert {p["phase"]: p["operations"] for p in applied["data"]["phases"]}["forget-missing"] == 2
    assert cli("audit", "--codex-home", str(built.root), "--check").exit_code == 0
    code, undone = undo(built.root, applied["data"]["run"])
    assert code == 0, undone
    assert snapshot(built.root) == before
    assert cli("audit", "--codex-home", str(built.root), "--check").exit_code == 4


def test_a_second_writer_is_refused_before_it_plans_and_is_told_who(tmp_path: Path) -> None:
    built = _sample(tmp_path)
    journal = built.root / "codex-sessions" / "journal.jsonl"
    before = snapshot(built.root)
    with JournalWriter(str(journal), fixed_services(), argv=["fix", "--apply"]):
        for args in (["fix", "--apply"], ["run", "migrate-provider", "--apply"]):
            code, data = cli_json(*args, "--codex-home", str(built.root))
            message = data["errors"][0]["message"]
            assert code == 3 and data["errors"][0]["code"] == "lock_held", data
            assert "another codex-sessions run" in message and "`fix --apply`" in message, message
            assert "Codex appears to be running" not in message
    assert snapshot(built.root) == before


def test_explain_suggests_only_commands_that_would_plan_something(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", HomeSpec(
        sessions=20, providers=("openai", "azure"), current_provider="azure", defined_providers=("azure",),
        archived_share=0.2, exec_share=0.2, seed=9,
        damage={"orphan": 1, "missing_file": 1, "moved_file": 1, "outside_home": 1, "not_json": 1}))
    suggested = 0
    for thread in audit(built.root)["threads"]:
        code, explained = cli_json("audit", "--codex-home", str(built.root), "--explain", thread["id"])
        assert code == 0
        for fix in explained["data"]["fixes"]:
            found = re.search(r"codex-sessions (run .*|fix .*) --apply", fix)
            if not found:
                continue
            args = shlex.split(found.group(1))
            code, plan = cli_json(*args, "--codex-home", str(built.root))
            assert code == 0, (fix, plan)
            ops = plan["data"].get("plan", {}).get("operations") or [
                op for p in plan["data"].get("phases", []) for op in p["plan"]["operations"]]
            assert any(op["subject"] == thread["id"] for op in ops), (thread["id"], fix)
            suggested += 1
    assert suggested >= 10


def test_the_summary_says_how_to_see_non_interactive_sessions(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", HomeSpec(sessions=4, exec_share=1.0, archived_share=0.0,
                                                   providers=("azure",), seed=2))
    data = audit(built.root)
    assert data["visibility"]["ide"]["hidden"] == 4
    assert "--include-non-interactive" in data["visibility"]["ide"]["summary"]
    code, dry = _fix(built.root)
    assert code == 0 and dry["data"]["operations"] == 0
    assert dry["data"]["still_hidden"][0]["reason"] == "source"
    assert "--include-non-interactive" in dry["data"]["still_hidden"][0]["how_to_see"]


def test_a_database_held_by_another_codex_sessions_run_is_named_as_such(tmp_path: Path) -> None:
    import subprocess
    import sys

    built = _sample(tmp_path)
    holder = subprocess.Popen(  # a process whose command line is a codex-sessions run, holding the database open
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('SELECT count(*) FROM threads').fetchall(); print('ready', flush=True); time.sleep(60)",
         str(built.root / "state_5.sqlite"), "codex-sessions", "run"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        code, data = cli_json("run", "migrate-provider", "--apply", "--journal", str(tmp_path / "other.jsonl"),
                              "--codex-home", str(built.root))
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout:
            holder.stdout.close()
    message = data["errors"][0]["message"]
    assert code == 3 and message.startswith("another codex-sessions run is using this home"), message
    assert f"pid {holder.pid}" in message
