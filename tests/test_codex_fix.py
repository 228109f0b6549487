"""`fix --apply` on a home with every kind of damage the fixtures know: real Codex then lists
exactly what the dry run predicted, and undo restores every byte and row (redo puts it back)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.generator import DAMAGE_KINDS, HomeSpec, build_home
from operations.audit import run_audit
from operations.home import discover
from operations.repair.fix import FixOptions, plan_fix
from operations.repair.selection import RepairContext, ThreadFilter
from operations.visibility import thread_list
from tests.codex.harness import CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.codexhome import snapshot, undo
from tests.helpers import cli_json, real_time_clock

pytestmark = pytest.mark.codex
LISTS = ({"sourceKinds": ["cli", "exec"]}, {"sourceKinds": ["cli", "exec"], "archived": True})
META_ID = "00000000-0000-7000-8000-000000000000"  # Codex also lists a file under its session_meta id


@pytest.mark.parametrize("version", ["0.171.0", "0.169.0"])
def test_fix_makes_codex_list_what_it_predicted(tmp_path: Path, codex_binary_for: Callable[[str], Path],
                                                version: str) -> None:
    built = build_home(tmp_path / "home", HomeSpec(
        version=version, sessions=40, providers=("mockB", "mockA"), current_provider="mockA",
        defined_providers=("mockA", "mockB"), archived_share=0.2, exec_share=0.3, seed=13,
        damage=dict.fromkeys(DAMAGE_KINDS, 1)))
    now = real_time_clock().now()
    fix = plan_fix(RepairContext(discover(built.root), run_audit(discover(built.root), now=now), now),
                   ThreadFilter(), FixOptions(unarchive=True, forget_missing=True))
    assert {p.operation for p in fix.phases} >= {"repair-paths", "import-orphans", "migrate-provider", "unarchive",
                                                 "forget-missing"}
    still_archived = {t.id for t in fix.after if t.facts and t.facts.archived}
    # left alone: a row that says "not archived", and threads with two files (never guessed between);
    # a .jsonl with its .zst twin is one file (the plain one, which Codex reads), so it is acted on
    left = {t for kind in ("archived_flag_mismatch", "duplicate") for t in built.truth[kind]}
    assert still_archived <= left
    assert sum(1 for p in fix.phases if p.operation == "unarchive" for _ in p.ops) >= 3
    before = snapshot(built.root)
    code, applied = cli_json("fix", "--unarchive", "--forget-missing", "--apply", "--codex-home", str(built.root))
    assert code == 0, applied
    after = snapshot(built.root)
    code, undone = undo(built.root, applied["data"]["run"])
    assert code == 0, undone
    assert snapshot(built.root) == before  # every byte (and mtime) and every row
    code, redone = cli_json("redo", undone["data"]["run"], "--apply", "--codex-home", str(built.root))
    assert code == 0, redone
    assert snapshot(built.root) == after
    with MockResponsesAPI() as api:
        codex = CodexSession(codex_binary_for(version), built.root, api, providers=("mockA", "mockB"),
                             current="mockA")
        try:
            codex.write_config()
            for params in LISTS:
                listed = {t["id"] for t in codex.thread_list(**params)} - {META_ID}
                predicted = {t.id for t in fix.after if t.facts is not None and thread_list(
                    t.facts, "mockA", source_kinds=params["sourceKinds"], archived=params.get("archived", False),
                ).listed}
                assert listed == predicted, params
                assert len(predicted) >= 10 if not params.get("archived") else predicted <= still_archived
        finally:
            codex.close()
        assert codex.live_processes() == []
