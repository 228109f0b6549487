"""The audit of a home made by the real Codex binary agrees with what `thread/list` lists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from operations.audit import run_audit
from operations.home import discover
from operations.visibility import thread_list
from tests.codex.harness import CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.helpers import real_time_clock

pytestmark = pytest.mark.codex


def test_audit_agrees_with_thread_list(tmp_path: Path, codex_binary_for: Callable[[str], Path]) -> None:
    proj_a, proj_b = tmp_path / "proj-a", tmp_path / "proj-b"
    home = tmp_path / "home"
    home.mkdir()
    with MockResponsesAPI() as api:
        codex = CodexSession(codex_binary_for("0.169.0"), home, api)
        try:
            codex.write_config(current="mockA")
            a1 = codex.exec("first in a", proj_a)
            a2 = codex.exec("first in b", proj_b)
            a3 = codex.exec("to be archived", proj_a)
            codex.write_config(current="mockB")
            b1 = codex.exec("made under B", proj_a)
            codex.archive(a3)
            codex.write_config(current="mockA")
            report = run_audit(discover(home), now=real_time_clock().now())
            assert {t.id for t in report.threads} == {a1, a2, a3, b1}
            assert report.integrity_problem_count == 0
            facts = {t.id: t.facts for t in report.threads}
            cases: list[dict[str, Any]] = [
                {}, {"sourceKinds": ["exec"]}, {"sourceKinds": ["exec"], "modelProviders": []},
                {"sourceKinds": ["exec"], "cwd": str(proj_a)}, {"sourceKinds": ["exec"], "archived": True},
                {"sourceKinds": ["exec"], "modelProviders": ["mockB"]},
            ]
            for params in cases:
                listed = {t["id"] for t in codex.thread_list(**params)}
                predicted = {
                    tid for tid, f in facts.items()
                    if f is not None and thread_list(
                        f, "mockA", model_providers=params.get("modelProviders"),
                        source_kinds=params.get("sourceKinds"), archived=params.get("archived", False),
                        cwd=params.get("cwd")).listed
                }
                assert listed == predicted, params
            assert report.visibility["ide"]["hidden"] == 4  # exec sessions are never in the default list
        finally:
            codex.close()
        assert codex.live_processes() == []


@pytest.mark.parametrize("version", ["0.171.0", "0.169.0"])
def test_a_reserved_provider_table_makes_codex_refuse_config_and_the_audit_says_so(
        tmp_path: Path, codex_binary_for: Callable[[str], Path], version: str) -> None:
    """[model_providers.openai] (a reserved built-in id) makes Codex refuse the whole config.toml:
    the CLI exits 1, the app-server runs with the defaults and lists `openai` sessions only. The
    audit says so, models the listing as Codex makes it, and `fix` will not migrate on a guess."""
    from tests.helpers import cli_json

    home = tmp_path / "home"
    home.mkdir()
    with MockResponsesAPI() as api:
        codex = CodexSession(codex_binary_for(version), home, api)
        try:
            codex.write_config(current="mockA", providers=("mockA",))
            made = codex.exec("before the config broke", tmp_path / "proj")
            codex.write_config(current="mockA", providers=("mockA", "openai"))
            refused = codex.run(["exec", "--skip-git-repo-check", "hi"], cwd=tmp_path / "proj", check=False)
            assert refused.returncode == 1
            assert "reserved built-in provider IDs: `openai`" in refused.stderr + refused.stdout
            listed = {t["id"] for t in codex.thread_list(sourceKinds=["exec"])}
            named = {t["id"] for t in codex.thread_list(sourceKinds=["exec"], modelProviders=["mockA"])}
        finally:
            codex.close()
    report = run_audit(discover(home), now=real_time_clock().now())
    assert any("reserved built-in provider IDs (`openai`)" in w for w in report.warnings)
    assert report.current_provider == "openai"  # what Codex falls back to
    facts = {t.id: t.facts for t in report.threads}
    predicted = {tid for tid, f in facts.items() if f is not None
                 and thread_list(f, report.current_provider, source_kinds=["exec"]).listed}
    assert listed == predicted == set() and named == {made}  # hidden by the provider filter alone
    code, fixed = cli_json("fix", "--codex-home", str(home))
    assert code == 3 and fixed["errors"][0]["code"] == "config_refused"
