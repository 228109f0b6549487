"""Threads made by real Codex 0.169 move into a home opened by 0.171, under another provider and
another project folder: 0.171 lists them there and resumes one; undo restores the target."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.codex.harness import CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.codexhome import row, snapshot, undo
from tests.helpers import cli_json

pytestmark = pytest.mark.codex


def test_export_from_0_169_and_import_into_0_171(tmp_path: Path, codex_binary_for: Callable[[str], Path]) -> None:
    proj_a, proj_b = tmp_path / "proj-a", tmp_path / "proj-b"
    with MockResponsesAPI() as api:
        (tmp_path / "old").mkdir()
        (tmp_path / "new").mkdir()
        old = CodexSession(codex_binary_for("0.169.0"), tmp_path / "old", api, providers=("mockA",), current="mockA")
        new = CodexSession(codex_binary_for("0.171.0"), tmp_path / "new", api, providers=("mockA", "mockB"),
                           current="mockB")
        try:
            old.write_config()
            first = old.exec("first task on the old machine", proj_a)
            moved = {first, old.exec("second one", proj_a / "sub")}
            old.close()
            new.write_config()
            own = new.exec("made on the new machine", proj_b)
            bundle = tmp_path / "moved.zip"
            code, exported = cli_json("export", "-o", str(bundle), "--codex-home", str(old.home))
            assert code == 0 and exported["data"]["threads"] == 2, exported
            args = ["import", str(bundle), "--to-provider", "mockB", "--from-folder", str(proj_a), "--to-folder",
                    str(proj_b),
                    "--codex-home", str(new.home)]
            before = snapshot(new.home)
            code, applied = cli_json(*args, "--apply")
            assert code == 0 and applied["data"]["counts"]["applied"] == 2, applied
            listed = {t["id"]: t for t in new.thread_list(sourceKinds=["exec"])}
            assert set(listed) == moved | {own}
            assert {listed[t]["modelProvider"] for t in moved} == {"mockB"}
            assert {listed[t]["cwd"] for t in moved} == {str(proj_b), str(proj_b / "sub")}
            assert {t["id"] for t in new.thread_list(sourceKinds=["exec"], cwd=str(proj_b))} == {own, first}
            code, again = cli_json(*args, "--apply")  # the same bundle again: nothing to do
            assert again["data"]["plan"]["operations"] == [] and len(again["data"]["skipped"]) == 2
            after = snapshot(new.home)
            code, undone = undo(new.home, applied["data"]["run"])
            assert code == 0, undone
            assert snapshot(new.home)["files"] == before["files"]
            assert snapshot(new.home)["rows"]["state_5.sqlite:threads"] == before["rows"]["state_5.sqlite:threads"]
            code, redone = cli_json("redo", undone["data"]["run"], "--apply", "--codex-home", str(new.home))
            assert code == 0 and snapshot(new.home)["files"] == after["files"], redone
            target = sorted(moved)[0]
            imported = Path(str(row(new.home, target)["rollout_path"]))  # type: ignore[index]
            size = imported.stat().st_size
            result = new.resume(target, "continuing on the new machine", proj_b)
            assert result.returncode == 0 and imported.stat().st_size > size  # appended to the imported file
            grown = {t["id"]: t for t in new.thread_list(sourceKinds=["exec"])}
            assert grown[target]["modelProvider"] == "mockB"
        finally:
            old.close()
            new.close()
        assert old.live_processes() == [] and new.live_processes() == []
