"""Codex's file scan stops after the newest 10,000 rollout files: the audit predicts exactly who
falls outside, and archiving newer sessions brings older ones back into view (real binaries)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.generator import HomeSpec, build_home
from operations.visibility import SCAN_WINDOW
from tests.codex.harness import AppServer, CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.codexhome import audit, run

pytestmark = pytest.mark.codex
SESSIONS = SCAN_WINDOW + 400


@pytest.mark.parametrize("version", ["0.171.0", "0.169.0"])
def test_the_scan_window(tmp_path: Path, codex_binary_for: Callable[[str], Path], version: str) -> None:
    built = build_home(tmp_path / "home", HomeSpec(
        version=version, sessions=SESSIONS, providers=("mockA", "mockB"), current_provider="mockA",
        defined_providers=("mockA", "mockB"), archived_share=0.02, exec_share=0.0, turns=1, seed=5))
    report = audit(built.root)
    ide = {t["id"]: t["ide"] for t in report["threads"]}
    outside = {tid for tid, v in ide.items() if any(r.startswith("scan window") for r in v["reasons"])}
    dated = sorted((s for s in built.sessions.values() if not s.archived), key=lambda s: s.path.name, reverse=True)
    assert outside == {s.id for s in dated[SCAN_WINDOW:]}  # by the name's timestamp, whatever the provider
    assert report["problems"]["scan_window"] == len(outside) > 0
    predicted = {tid for tid, v in ide.items() if v["listed"]}
    with MockResponsesAPI() as api:
        codex = CodexSession(codex_binary_for(version), built.root, api, providers=("mockA", "mockB"),
                             current="mockA")
        try:
            codex.write_config()
            with AppServer(codex) as server:
                assert {t["id"] for t in server.thread_list(limit=1000)} == predicted
                if version == "0.171.0":  # the database page is not windowed
                    every = server.thread_list(limit=1000, modelProviders=[], sourceKinds=["cli", "exec"])
                    assert {t["id"] for t in every} >= outside
            if version == "0.171.0":
                # archive 300 of the newest sessions: as many older ones come back into the window
                newest = [s.id for s in dated[:300]]
                code, data = run(built.root, "archive", *[a for t in newest for a in ("--thread", t)], "--apply")
                assert code == 0, data
                back = {s.id for s in dated[SCAN_WINDOW:SCAN_WINDOW + 300] if s.provider == "mockA"}
                with AppServer(codex) as server:
                    now_listed = {t["id"] for t in server.thread_list(limit=1000)}
                assert back and back <= now_listed
                assert {t["id"] for t in audit(built.root)["threads"] if t["ide"]["listed"]} == now_listed
        finally:
            codex.close()
        assert codex.live_processes() == []
