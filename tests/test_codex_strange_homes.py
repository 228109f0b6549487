"""What real Codex lists from a home with a symlinked dated folder, a symlinked rollout and a FIFO
named like a rollout, against what the audit predicts.

Seen with 0.169.0 and 0.171.0: the file scan (every default listing) follows neither kind of
symlink and skips the FIFO without blocking; the database page lists both linked threads (their
rows' files are readable through the link), and a thread in a symlinked folder resumes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import HomeSpec, build_home
from operations.audit import run_audit
from operations.home import discover
from operations.visibility import thread_list
from tests.codex.harness import CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.helpers import TickingClock

pytestmark = pytest.mark.codex
SCAN = {"sourceKinds": ["cli", "exec"]}  # the provider filter is on: Codex returns its scan
DATABASE = {"sourceKinds": ["cli", "exec"], "modelProviders": []}  # Codex returns its database page


def _predicted(report: Any, params: dict[str, Any]) -> set[str]:
    return {t.id for t in report.threads if t.facts is not None and thread_list(
        t.facts, "azure", model_providers=params.get("modelProviders"), source_kinds=params.get("sourceKinds")).listed}


@pytest.mark.parametrize("version", ["0.171.0", "0.169.0"])
def test_codex_lists_symlinked_rollouts_only_from_its_database(tmp_path: Path, version: str,
                                                                codex_binary_for: Callable[[str], Path]) -> None:
    built = build_home(tmp_path / "home", HomeSpec(version=version, sessions=6, providers=("azure",),
                                                   current_provider="azure", defined_providers=("azure",),
                                                   archived_share=0.0, exec_share=0.0, seed=5))
    ordered = sorted(built.sessions.values(), key=lambda s: s.id)
    folder = ordered[0].path.parent
    in_folder = [s.id for s in ordered if s.path.parent == folder]
    shutil.move(str(folder), tmp_path / "elsewhere")
    folder.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    single = next(s for s in reversed(ordered) if s.id not in in_folder)
    shutil.move(str(single.path), tmp_path / single.path.name)  # the target keeps Codex's file name
    single.path.symlink_to(tmp_path / single.path.name)
    os.mkfifo(ordered[2].path.with_name("rollout-2026-06-03T10-00-00-01a00000-0000-7000-8000-00000000f1f0.jsonl"))

    report = run_audit(discover(built.root), now=TickingClock().now())
    assert {t.id for t in report.threads if "symlinked_rollout" in t.problems} == {*in_folder, single.id}
    with MockResponsesAPI() as api:
        codex = CodexSession(codex_binary_for(version), built.root, api, providers=("azure",), current="azure")
        try:
            codex.write_config()
            for params in (SCAN, DATABASE):
                listed = {t["id"] for t in codex.thread_list(**params)}
                assert listed == _predicted(report, params), params
            assert not {*in_folder, single.id} & {t["id"] for t in codex.thread_list(**SCAN)}
            assert {*in_folder, single.id} <= {t["id"] for t in codex.thread_list(**DATABASE)}
            resumed = codex.resume(in_folder[0], "still there?", tmp_path / "proj")
            assert resumed.returncode == 0
        finally:
            codex.close()
        assert codex.live_processes() == []
    assert folder.is_symlink() and single.path.is_symlink()
