"""Real Codex reads generated homes, and lists exactly what the audit predicts, damage included.

This checks the fixtures (Codex 0.169 parses and resumes them) and the audit's model of
`thread/list` (scan page vs database page, archived by folder, previews) at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import DAMAGE_KINDS, VERSIONS, HomeSpec, build_home
from operations.audit import run_audit
from operations.home import discover
from operations.visibility import thread_list
from tests.codex.harness import EXTRA, CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.helpers import TickingClock

pytestmark = pytest.mark.codex
FILTERED = {"sourceKinds": ["cli", "exec"]}  # the provider filter is on: Codex returns its scan
UNFILTERED = {"sourceKinds": ["cli", "exec"], "modelProviders": []}  # Codex returns its database page
ARCHIVED = {"sourceKinds": ["cli", "exec"], "modelProviders": [], "archived": True}


def _predicted(report: Any, params: dict[str, Any]) -> set[str]:
    return {t.id for t in report.threads if t.facts is not None and thread_list(
        t.facts, "azure", model_providers=params.get("modelProviders"), source_kinds=params.get("sourceKinds"),
        archived=params.get("archived", False)).listed}


@pytest.mark.parametrize(("version", "kind"), [(v, k) for v in (*EXTRA, "0.171.0", "0.169.0")
                                                  for k in (None, *DAMAGE_KINDS)]
                         + [("0.128.0", k) for k in (None, "orphan", "moved_file", "archived_flag_mismatch",
                                                     "provider_mismatch", "missing_file")])
def test_codex_lists_what_the_audit_predicts(tmp_path: Path, codex_binary_for: Callable[[str], Path],
                                             version: str, kind: str | None) -> None:
    built = build_home(tmp_path / "home", HomeSpec(  # a canary release opens the newest pinned one's home
        version=version if version in VERSIONS else VERSIONS[-1], sessions=8, providers=("openai", "azure"),
        current_provider="azure",
        defined_providers=("azure",), archived_share=0.2, exec_share=0.3, seed=3,
        damage={kind: 1} if kind else {}))
    report = run_audit(discover(built.root), now=TickingClock().now())
    with MockResponsesAPI() as api:
        codex = CodexSession(codex_binary_for(version), built.root, api, providers=("azure",), current="azure")
        try:
            codex.write_config()
            # 0.128's database page differs (it lists a moved file's row); the clients' default is the scan
            cases = [FILTERED] if version == "0.128.0" else [FILTERED, UNFILTERED, ARCHIVED]
            for params in cases:
                listed = {t["id"] for t in codex.thread_list(**params)}
                if kind == "meta_id_mismatch" and params is not ARCHIVED:
                    # A fact about Codex: it also lists the file under its session_meta id.
                    assert listed - _predicted(report, params) == {"00000000-0000-7000-8000-000000000000"}
                    listed.discard("00000000-0000-7000-8000-000000000000")
                assert listed == _predicted(report, params), (params, kind)
            if kind is None and version != "0.128.0":
                healthy = next(s for s in built.sessions.values() if s.provider == "azure" and not s.archived)
                codex.resume(healthy.id, "continue", tmp_path / "proj")  # and it resumes a generated session
                assert healthy.path.stat().st_size > len(healthy.data)
        finally:
            codex.close()
        assert codex.live_processes() == []
