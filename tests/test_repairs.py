"""Every repair operation on generated homes at each schema level: dry run, apply, audit, undo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from fixtures.generator import VERSIONS, BuiltHome, HomeSpec, build_home
from tests.codexhome import audit, row, run, snapshot, undo


def _home(tmp_path: Path, version: str, **kw: Any) -> BuiltHome:
    spec = HomeSpec(version=version, sessions=kw.pop("sessions", 10), archived_share=kw.pop("archived_share", 0.0),
                    exec_share=0.0, providers=kw.pop("providers", ("azure",)), seed=kw.pop("seed", 4), **kw)
    return build_home(tmp_path / "home", spec)


def _round_trip(built: BuiltHome, operation: str, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Dry run, apply, then return (plan, applied); the caller checks the audit; undo is checked here."""
    before = snapshot(built.root)
    code, dry = run(built.root, operation, *args)
    assert code == 0, dry
    assert dry["data"]["dry_run"] is True
    assert snapshot(built.root) == before, "a dry run changed something"
    code, applied = run(built.root, operation, *args, "--apply")
    assert code == 0, applied
    assert applied["data"]["counts"]["applied"] == len(dry["data"]["plan"]["operations"]) > 0
    assert applied["data"]["undo"] == f"codex-sessions undo {applied['data']['run']} --apply"
    after = snapshot(built.root)
    assert after != before
    report = audit(built.root)
    code, undone = undo(built.root, applied["data"]["run"])
    assert code == 0, undone
    assert snapshot(built.root) == before, "undo did not restore every byte, mtime and row"
    code, again = run(built.root, operation, *args, "--apply")  # and it can be redone from scratch
    assert code == 0 and again["data"]["counts"]["applied"] == applied["data"]["counts"]["applied"]
    assert snapshot(built.root) == after or operation == "unarchive"  # unarchive touches mtime to now
    return dry["data"]["plan"], report


@pytest.mark.parametrize("version", VERSIONS)
def test_migrate_provider(tmp_path: Path, version: str) -> None:
    built = _home(tmp_path, version, providers=("openai", "azure"), sessions=12, archived_share=0.2)
    moving = {s.id for s in built.sessions.values() if s.provider == "openai"}
    plan, report = _round_trip(built, "migrate-provider", "--to-provider", "azure")
    assert {op["subject"] for op in plan["operations"]} == moving
    for op in plan["operations"]:
        kinds = [e["kind"] for e in op["effects"]]
        assert kinds[0] == "file_edit" and kinds[-1] == "row_update"
        lines = {line for e in op["effects"] if e["kind"] == "file_edit" for g in e["splices"] for line, _ in g["at"]}
        paginated = version in ("0.169.0", "0.171.0")
        assert lines == ({1, 5} if paginated else {1})  # 0.169 and later also have thread_settings_applied
        if paginated:
            assert {e["table"] for e in op["effects"] if e["kind"] == "row_update"} == {
                "threads", "thread_history_projection_state"}
            assert {e["table"] for e in op["effects"] if e["kind"] == "rows_update"} == {"thread_turns"}
    assert report["visibility"]["ide"]["by_reason"].get("provider", 0) == 0
    assert report["integrity_problem_count"] == 0


def test_the_fields_an_edit_says_it_changed_are_the_fields_that_differ(tmp_path: Path) -> None:
    """Planners say which JSON values they changed (so lines are not parsed again); the journal's
    `fields` must be exactly what comparing the lines finds."""
    from journal.effects import FileEdit, effect_from_json, json_changes

    built = _home(tmp_path, "0.169.0", providers=("openai", "azure"), sessions=8, turns=3)
    code, dry = run(built.root, "migrate-provider", "--to-provider", "azure")
    assert code == 0 and dry["data"]["plan"]["operations"], dry
    checked = 0
    for op in dry["data"]["plan"]["operations"]:
        for data in op["effects"]:
            if data["kind"] != "file_edit":
                continue
            edit = effect_from_json(data)
            assert isinstance(edit, FileEdit)
            before = Path(edit.path).read_bytes().split(b"\n")
            after = edit.spliced(b"\n".join(before)).split(b"\n")
            for splice in edit.splices:
                assert splice.fields == json_changes(before[splice.line - 1], after[splice.line - 1])
                checked += 1
    assert checked >= 2 * len(dry["data"]["plan"]["operations"])  # session_meta and the turns' settings


def test_migrated_file_changes_only_the_provider_bytes_and_keeps_offsets_true(tmp_path: Path) -> None:
    built = _home(tmp_path, "0.169.0", providers=("openai",), sessions=2)
    session = next(iter(built.sessions.values()))
    old = session.path.read_bytes()
    code, applied = run(built.root, "migrate-provider", "--to-provider", "azure", "--thread", session.id, "--apply")
    assert code == 0, applied
    new = session.path.read_bytes()
    assert new == old.replace(b'"model_provider":"openai"', b'"model_provider":"azure"').replace(
        b'"model_provider_id":"openai"', b'"model_provider_id":"azure"')
    assert session.path.stat().st_mtime_ns == session.mtime_ns
    import sqlite3
    conn = sqlite3.connect(built.root / "thread_history_1.sqlite")
    (end,) = conn.execute("SELECT next_rollout_byte_offset FROM thread_history_projection_state WHERE thread_id=?",
                          (session.id,)).fetchone()
    start, stop = conn.execute("SELECT rollout_byte_offset, rollout_end_byte_offset FROM thread_turns "
                               "WHERE thread_id=?", (session.id,)).fetchone()
    conn.close()
    assert end == len(new) == stop
    assert new[start:].startswith(b'{"timestamp"') and new[start - 1 : start] == b"\n"
    assert orjson.loads(new[start:].split(b"\n")[0])["ordinal"] == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_unarchive_then_archive(tmp_path: Path, version: str) -> None:
    built = _home(tmp_path, version, archived_share=0.5)
    archived = {s.id for s in built.sessions.values() if s.archived}
    assert archived
    plan, report = _round_trip(built, "unarchive")
    assert {op["subject"] for op in plan["operations"]} == archived
    assert report["counts"]["threads_archived"] == 0 and report["counts"]["archived_rollouts"] == 0
    assert report["integrity_problem_count"] == 0
    some = sorted(archived)[0]
    r = row(built.root, some)
    assert r is not None and r["archived"] == 0 and r["archived_at"] is None
    assert Path(r["rollout_path"]).parent.parent.parent.parent.name == "sessions"
    assert Path(r["rollout_path"]).stat().st_mtime_ns // 10**9 == r["updated_at"]  # touched, like Codex
    code, archived_again = run(built.root, "archive", "--thread", some, "--apply")
    assert code == 0, archived_again
    r = row(built.root, some)
    assert r is not None and r["archived"] == 1 and "/archived_sessions/" in r["rollout_path"]
    assert audit(built.root)["integrity_problem_count"] == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_repair_paths(tmp_path: Path, version: str) -> None:
    built = _home(tmp_path, version, damage={"moved_file": 2, "outside_home": 1})
    plan, report = _round_trip(built, "repair-paths")
    assert {op["subject"] for op in plan["operations"]} == set(built.truth["moved_file"] + built.truth["outside_home"])
    kinds = sorted(tuple(e["kind"] for e in op["effects"]) for op in plan["operations"])
    assert kinds == [("file_move",), ("file_move",), ("row_update",)]  # the row already names the right place
    assert report["problems"] == {} and report["integrity_problem_count"] == 0


def test_repair_paths_does_not_guess_between_candidates(tmp_path: Path) -> None:
    built = _home(tmp_path, "0.169.0", damage={"moved_file": 1})
    (moved,) = built.truth["moved_file"]
    path = built.sessions[moved].path
    copy = built.root / "sessions" / "2021" / "03" / "03" / path.name
    copy.parent.mkdir(parents=True)
    copy.write_bytes(path.read_bytes())
    before = snapshot(built.root)
    code, data = run(built.root, "repair-paths", "--apply")
    assert code == 3
    assert data["data"]["plan"]["refused"][0]["reason"].startswith("several candidate files")
    assert snapshot(built.root) == before


@pytest.mark.parametrize("version", VERSIONS)
def test_import_orphans(tmp_path: Path, version: str) -> None:
    built = _home(tmp_path, version, damage={"orphan": 3, "active_orphan": 1})
    plan, report = _round_trip(built, "import-orphans")
    assert {op["subject"] for op in plan["operations"]} == set(built.truth["orphan"])
    assert [r["thread"] for r in plan["refused"]] == built.truth["active_orphan"]
    assert "ACTIVE_ORPHAN" in plan["refused"][0]["reason"]
    assert report["integrity"]["disk_not_in_db_count"] == 1  # only the live one is left
    for op in plan["operations"]:
        inserted = op["effects"][0]["row"]
        session = built.sessions[op["subject"]]
        assert inserted["model_provider"] == session.provider and inserted["cwd"] == session.cwd
        assert inserted["first_user_message"] == session.prompt and inserted["tokens_used"] == 1212
        assert inserted["rollout_path"] == str(session.path)
        if "preview" in inserted:
            assert inserted["preview"] == session.prompt


@pytest.mark.parametrize("version", VERSIONS)
def test_imported_rows_equal_the_rows_codex_derived(tmp_path: Path, version: str) -> None:
    """Our derivation and the fixture's (modelled on real rows) agree column for column."""
    import sqlite3
    built = _home(tmp_path, version, sessions=3)
    for thread_id in built.sessions:  # with and without git info
        expected = row(built.root, thread_id)
        conn = sqlite3.connect(built.root / "state_5.sqlite")
        conn.execute("DELETE FROM threads WHERE id = ?", (thread_id,))
        conn.commit()
        conn.close()
        code, data = run(built.root, "import-orphans", "--apply")
        assert code == 0, data
        assert row(built.root, thread_id) == expected


def test_import_via_backfill_reset(tmp_path: Path) -> None:
    built = _home(tmp_path, "0.169.0", damage={"orphan": 2})
    code, data = run(built.root, "import-orphans", "--via-backfill", "--apply")
    assert code == 0, data
    assert audit(built.root)["backfill_state"]["status"] == "pending"
    code, undone = undo(built.root, data["data"]["run"])
    assert code == 0 and audit(built.root)["backfill_state"]["status"] == "complete"


def test_filters_limit_the_plan(tmp_path: Path) -> None:
    built = _home(tmp_path, "0.169.0", providers=("openai", "azure"), sessions=20,
                  cwds=("/home/u/a", "/home/u/a-b", "/home/u/c"))
    sessions = built.sessions.values()
    code, data = run(built.root, "migrate-provider", "--cwd", "/home/u/a")
    expected = {s.id for s in sessions if s.provider == "openai" and s.cwd == "/home/u/a"}
    assert {op["subject"] for op in data["data"]["plan"]["operations"]} == expected
    first = sorted(sessions, key=lambda s: s.created_ms)[10]
    since = __import__("datetime").datetime.fromtimestamp(first.created_ms // 1000).astimezone().isoformat()
    code, data = run(built.root, "migrate-provider", "--since", since)
    expected = {s.id for s in sessions if s.provider == "openai" and s.created_ms // 1000 >= first.created_ms // 1000}
    assert {op["subject"] for op in data["data"]["plan"]["operations"]} == expected
    code, data = run(built.root, "migrate-provider", "--to-provider", "openai", "--from-provider", "azure")
    assert {op["subject"] for op in data["data"]["plan"]["operations"]} == {
        s.id for s in sessions if s.provider == "azure"}


def test_db_only_is_the_seeds_method_with_a_warning(tmp_path: Path) -> None:
    built = _home(tmp_path, "0.169.0", providers=("openai",), sessions=3)
    code, data = run(built.root, "migrate-provider", "--db-only", "--apply")
    assert code == 0, data
    assert any("Codex re-reads" in w for w in data["data"]["plan"]["warnings"])
    assert all(len(op["effects"]) == 1 and op["effects"][0]["table"] == "threads"
               for op in data["data"]["plan"]["operations"])
    assert audit(built.root)["problems"] == {"provider_mismatch": 3}


def test_prune_keeps_the_newest_backups(tmp_path: Path) -> None:
    built = _home(tmp_path, "0.169.0", providers=("openai",), sessions=3, archived_share=1.0)
    for operation in ("unarchive", "archive", "unarchive"):
        code, data = run(built.root, operation, "--apply")
        assert code == 0, data
        assert all(Path(b["path"]).exists() for b in data["data"]["backups"])
    backups = built.root / "codex-sessions" / "backups"
    assert len({p.name[:24] for p in backups.iterdir()}) == 3
    from tests.helpers import cli_json
    code, pruned = cli_json("prune", "--keep", "1", "--codex-home", str(built.root))
    assert code == 0 and len(pruned["data"]["kept"]) == 1
    assert len(list(backups.iterdir())) == 1  # unarchive touches only state_5, so only it was backed up
    assert os.stat(backups).st_mode & 0o777 == 0o700


@pytest.mark.parametrize("child_migrates", [False, True])
def test_a_forks_history_base_keeps_pointing_at_the_same_bytes_of_its_migrated_parent(
        tmp_path: Path, child_migrates: bool) -> None:
    """A fork's first line holds `history_base.end_byte_offset`, an offset into its parent's
    rollout. Migrating the parent shortens lines before that offset, so the offset moves with
    them: in the child's own edit when the child migrates too, else in the parent's operation."""
    built = _home(tmp_path, "0.169.0", providers=("openai", "azure"), sessions=8, turns=3, seed=21)
    parent = next(s for s in built.sessions.values() if s.provider == "openai" and not s.archived)
    child = next(s for s in built.sessions.values() if s.id != parent.id and not s.archived
                 and s.provider == ("openai" if child_migrates else "azure"))
    parent_before = parent.path.read_bytes()
    end = len(parent_before)  # the fork saw the whole parent
    lines = child.path.read_bytes().split(b"\n")
    meta = orjson.loads(lines[0])
    meta["payload"]["history_base"] = {"thread_id": parent.id, "end_byte_offset": end}
    lines[0] = orjson.dumps(meta)
    stat = child.path.stat()
    child.path.write_bytes(b"\n".join(lines))
    os.utime(child.path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    before = snapshot(built.root)
    code, applied = run(built.root, "migrate-provider", "--to-provider", "azure", "--apply")
    assert code == 0, applied
    parent_after = parent.path.read_bytes()
    assert len(parent_after) < end  # "openai" -> "azure" shortened lines before the offset
    child_meta = orjson.loads(child.path.read_bytes().split(b"\n")[0])
    assert child_meta["payload"]["history_base"]["end_byte_offset"] == len(parent_after)
    assert (child_meta["payload"]["model_provider"] == "azure") is True
    ops = {op["subject"]: op for op in applied["data"]["plan"]["operations"]}
    carrier = ops[child.id] if child_migrates else ops[parent.id]
    edited = {e["path"] for e in carrier["effects"] if e["kind"] == "file_edit"}
    assert str(child.path) in edited and (child.id in ops) is child_migrates
    code, undone = undo(built.root, applied["data"]["run"])
    assert code == 0, undone
    assert snapshot(built.root) == before and parent.path.read_bytes() == parent_before


def test_an_archived_rollout_renamed_without_its_date_is_left_alone_by_unarchive(tmp_path: Path) -> None:
    """The dated folder a file goes back to comes from its name: with no date there, the thread is
    left alone with that reason (it was a traceback)."""
    import sqlite3

    built = build_home(tmp_path / "home", HomeSpec(sessions=10, seed=2, archived_share=0.3))
    session = next(s for s in built.sessions.values() if s.archived)
    renamed = session.path.parent / f"rollout-{session.id}.jsonl"
    session.path.rename(renamed)
    conn = sqlite3.connect(built.root / "state_5.sqlite")
    conn.execute("UPDATE threads SET rollout_path = ? WHERE id = ?", (str(renamed), session.id))
    conn.commit()
    conn.close()
    before = snapshot(built.root)
    code, applied = run(built.root, "unarchive", "--thread", session.id, "--apply")
    assert code == 3 and applied["data"]["plan"]["refused"] == [
        {"thread": session.id, "kind": "undated_name",
         "reason": f"{renamed.name} carries no date, so the dated folder Codex would keep it in is unknown"}], applied
    assert snapshot(built.root) == before
