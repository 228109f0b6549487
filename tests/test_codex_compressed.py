"""Sessions Codex itself compressed (`--enable local_thread_store_compression`, 0.171) are
repaired like any other: after a provider switch hides them, `fix --apply` makes Codex list
exactly the predicted set; undo gives back every compressed byte, mtime and row; Codex's
worker, run again, fails on nothing and Codex lists the same set; `codex exec resume` of a
migrated compressed session appends to it, and a forced undo then keeps the appended turn.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from journal.zstdio import decompress
from operations.audit import run_audit
from operations.home import discover
from operations.repair.fix import FixOptions, plan_fix
from operations.repair.selection import RepairContext, ThreadFilter
from operations.visibility import thread_list
from tests.codex.compression import age, run_compression_worker
from tests.codex.harness import CodexSession
from tests.codex.mock_api import MockResponsesAPI
from tests.codexhome import row, snapshot, undo
from tests.helpers import cli_json, real_time_clock

pytestmark = pytest.mark.codex
LISTS = ({"sourceKinds": ["exec"]}, {"sourceKinds": ["exec"], "archived": True})


def _rollouts(home: Path) -> list[Path]:
    return sorted(p for folder in ("sessions", "archived_sessions") for p in (home / folder).rglob("rollout-*"))


def _listed(codex: CodexSession) -> list[dict[str, dict[str, Any]]]:
    return [{t["id"]: t for t in codex.thread_list(**params)} for params in LISTS]


def test_codex_compressed_sessions_are_fixed_undone_recompressed_and_resumed(
        tmp_path: Path, codex_binary_for: Callable[[str], Path]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with MockResponsesAPI() as api:
        codex = CodexSession(codex_binary_for("0.171.0"), home, api)
        try:
            codex.write_config(current="mockA")
            made = [codex.exec(f"task {n}", tmp_path / f"proj-{n % 2}") for n in range(4)]
            codex.archive(made[3])
            age(_rollouts(home), days=8)
            assert run_compression_worker(codex) == {"scanned": 4, "compressed": 4, "skipped": 0, "failed": 0}
            compressed = {p.name for p in _rollouts(home)}
            assert len(compressed) == 4 and all(name.endswith(".jsonl.zst") for name in compressed)
            fresh = codex.exec("a recent one, still plain", tmp_path / "proj-0")  # not idle: the worker skips it

            codex.write_config(current="mockB")  # a provider switch: every session is hidden
            assert _listed(codex) == [{}, {}]
            now = real_time_clock().now()
            home_now = discover(home)
            fix = plan_fix(RepairContext(home_now, run_audit(home_now, now=now), now), ThreadFilter(),
                           FixOptions(unarchive=True))
            assert not any("compressed" in r.reason for p in fix.phases for r in p.left_alone)
            predicted = [{t.id for t in fix.after if t.facts is not None and thread_list(
                t.facts, "mockB", source_kinds=params["sourceKinds"], archived=params.get("archived", False)).listed}
                for params in LISTS]
            assert predicted == [{*made, fresh}, set()]

            target = made[0]
            (packed,) = [p for p in _rollouts(home) if target in p.name]
            original = decompress(packed.read_bytes(), 1 << 30)
            before = snapshot(home)
            code, applied = cli_json("fix", "--unarchive", "--apply", "--codex-home", str(home))
            assert code == 0, applied
            assert [set(listing) for listing in _listed(codex)] == predicted
            assert {p.name for p in _rollouts(home)} == compressed | {p.name for p in _rollouts(home)
                                                                       if fresh in p.name}
            after = snapshot(home)

            code, undone = undo(home, applied["data"]["run"])
            assert code == 0, undone
            assert snapshot(home) == before  # every compressed byte, every mtime, every row
            code, redone = cli_json("redo", undone["data"]["run"], "--apply", "--codex-home", str(home))
            assert code == 0, redone
            assert snapshot(home) == after

            # The worker's next pass: our compressed rewrites are compressed already; the plain
            # session we migrated kept its mtime, so once idle it is compressed like any other.
            age([p for p in _rollouts(home) if fresh in p.name], days=8)
            assert run_compression_worker(codex) == {"scanned": 1, "compressed": 1, "skipped": 0, "failed": 0}
            listings = _listed(codex)
            assert [set(listing) for listing in listings] == predicted
            assert {t["modelProvider"] for listing in listings for t in listing.values()} == {"mockB"}

            # Resuming a migrated compressed session: Codex decompresses it and appends
            migrated = decompress(packed.read_bytes(), 1 << 30)
            codex.resume(target, "continue please", tmp_path / "proj-0")
            plain = Path(str(packed)[: -len(".zst")])
            assert not packed.exists() and plain.exists()
            grown = plain.read_bytes()
            assert grown.startswith(migrated) and len(grown) > len(migrated)
            assert b'"model_provider_id":"mockB"' in grown[len(migrated):]
            assert target in _listed(codex)[0]
            # the one unarchived here: its row names the .zst, as Codex's own unarchive leaves it
            (unarchived,) = [p for p in _rollouts(home) if made[3] in p.name]
            assert unarchived.name.endswith(".jsonl.zst") and "archived_sessions" not in str(unarchived)
            assert (row(home, made[3]) or {})["rollout_path"] == str(unarchived)
            codex.resume(made[3], "and this one", tmp_path / "proj-1")
            assert not unarchived.exists() and Path(str(unarchived)[: -len(".zst")]).stat().st_size > 0
            assert (row(home, made[3]) or {})["rollout_path"] == str(unarchived)[: -len(".zst")]

            # its undo is forceable drift, and the forced undo keeps the appended turn
            code, shown = cli_json("show", applied["data"]["run"], "--codex-home", str(home))
            (op,) = [o["op"] for o in shown["data"]["operations"] if o.get("subject") == target]
            code, refused = undo(home, op)
            assert code == 3 and "decompressed" in refused["errors"][0]["message"]
            code, forced = undo(home, op, "--force")
            assert code == 0, forced
            assert plain.read_bytes() == original + grown[len(migrated):]
        finally:
            codex.close()
        assert codex.live_processes() == []
