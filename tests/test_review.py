"""Forensic review you can trust, and the rough edges a new user met (issue 13)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from fixtures.generator import HomeSpec, build_home
from journal.errors import JournalCorrupt
from journal.runner import PlannedOp
from tests.codexhome import audit, run
from tests.helpers import World, cli, cli_json

J = "--journal"


def test_a_complete_garbage_last_line_is_corruption_not_a_torn_tail(world: World) -> None:
    world.execute([PlannedOp("one", (world.update("a", n=10),))])
    with open(world.journal, "ab") as handle:
        handle.write(b"this is not a record\n")
    code, data = cli_json("verify", J, str(world.journal))
    assert code == 3 and data["data"]["torn_tail"] is None
    assert [p["kind"] for p in data["data"]["problems"]] == ["corrupt_line"]
    before = world.journal.read_bytes()
    with pytest.raises(JournalCorrupt, match="never repaired in place: to go on, move it aside"):
        world.execute([PlannedOp("two", (world.update("b", n=20),))])
    assert world.journal.read_bytes() == before  # nothing set aside, nothing appended


def test_verify_expect_head_notices_lines_deleted_from_the_end(world: World) -> None:
    first = world.execute([PlannedOp("one", (world.update("a", n=10),))])
    world.execute([PlannedOp("two", (world.update("b", n=20),))])
    code, data = cli_json("verify", J, str(world.journal), "--expect-head", first.head["sha256"])
    assert code == 0 and data["data"]["expected_head"]["lines_after_it"] > 0
    second_head = data["data"]["head"]["sha256"]
    lines = world.journal.read_bytes().splitlines(keepends=True)
    world.journal.write_bytes(b"".join(lines[: first.head["seq"] + 1]))  # the second run's lines deleted
    code, plain = cli_json("verify", J, str(world.journal))
    assert code == 0  # the file alone cannot tell
    code, data = cli_json("verify", J, str(world.journal), "--expect-head", second_head)
    assert code == 3 and data["data"]["expected_head"]["found_at_seq"] is None
    assert "NOT in this journal" in cli("verify", J, str(world.journal), "--expect-head", second_head).stdout


def test_ids_in_any_case_and_ambiguous_prefixes_name_their_candidates(world: World) -> None:
    result = world.execute([PlannedOp("one", (world.update("a", n=10),)), PlannedOp("two", (world.update("b", n=3),))])
    code, shown = cli_json("show", result.run_id.upper(), J, str(world.journal))
    assert code == 0 and result.run_id in str(shown["data"])
    prefix = os.path.commonprefix([result.run_id, result.ops[0].op_id])  # ids made in one run share a prefix
    assert len(prefix) >= 4
    code, data = cli_json("show", prefix, J, str(world.journal))
    message = data["errors"][0]["message"]
    assert code == 2 and "could mean" in message and "op " in message and "run " in message, message
    assert "in run " + result.run_id in message


def test_one_bad_row_never_blocks_the_home(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", HomeSpec(sessions=5, providers=("openai",), archived_share=0.0,
                                                   exec_share=0.0, seed=6))
    bad = sorted(built.sessions)[2]
    conn = sqlite3.connect(built.state_db)
    conn.execute("UPDATE threads SET cwd = CAST(? AS TEXT) WHERE id = ?", (b"/home/u/caf\xe9", bad))
    conn.commit()
    conn.close()
    data = audit(built.root)
    thread = next(t for t in data["threads"] if t["id"] == bad)
    assert "undecodable_row" in thread["problems"] and data["counts"]["threads_total"] == 5
    code, applied = run(built.root, "migrate-provider", "--apply")
    assert code == 0, applied
    assert bad not in {op["subject"] for op in applied["data"]["plan"]["operations"]}
    assert len(applied["data"]["plan"]["operations"]) == 4
    assert any(bad in w and "not UTF-8" in w for w in applied["data"]["plan"]["warnings"])
    conn = sqlite3.connect(built.state_db)
    conn.text_factory = bytes
    assert conn.execute("SELECT cwd FROM threads WHERE id = ?", (bad,)).fetchone()[0] == b"/home/u/caf\xe9"
    conn.close()


def test_a_folder_that_is_not_a_codex_home_is_called_so(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"\xff\xd8")
    result = cli("audit", "--codex-home", str(folder))
    assert result.exit_code == 2 and "is not a Codex home" in result.stderr and "~/.codex" in result.stderr


def test_a_redacted_audit_reveals_no_id_path_cwd_title_preview_or_provider(tmp_path: Path) -> None:
    from fixtures.generator import sample_spec

    built = build_home(tmp_path / "secret-project-home", sample_spec())
    code, data = cli_json("audit", "--codex-home", str(built.root), "--redact")
    assert code == 0
    text = cli("audit", "--codex-home", str(built.root), "--redact").stdout
    assert data["data"]["redacted"] is True and data["data"]["counts"]["sessions_total"] == 24
    assert data["data"]["problems"]["disk_not_in_db"] == 2  # codes and counts stay
    secrets = set(built.sessions) | {s.cwd for s in built.sessions.values()} | {
        s.prompt for s in built.sessions.values()} | {str(s.path) for s in built.sessions.values()}
    secrets |= {str(built.root), "secret-project-home", "openai", "azure", str(tmp_path)}
    secrets |= {part for s in built.sessions.values() for part in Path(s.cwd).parts
                if len(part) > 2 and part != "home"}  # "home" is also a word in the report's keys
    for output in (text, str(data)):
        leaked = sorted(s for s in secrets if s in output)
        assert leaked == [], leaked


def test_log_and_show_warn_when_the_chain_is_broken(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    first = world.execute([PlannedOp("one", (world.update("a", n=10),))])
    world.execute([PlannedOp("two", (world.update("b", n=20),))])
    assert "WARNING" not in cli("log", J, str(world.journal)).stderr
    lines = world.journal.read_bytes().split(b"\n")
    edited = next(n for n, line in enumerate(lines) if b'"label":"one"' in line)
    lines[edited] = lines[edited].replace(b'"label":"one"', b'"label":"ONE"')  # still JSON; the chain breaks
    world.journal.write_bytes(b"\n".join(lines))
    for args in (["log"], ["log", "--json"], ["show", first.run_id]):
        result = cli(*args, J, str(world.journal))
        assert result.exit_code == 0 and "WARNING" in result.stderr and "verify" in result.stderr, args
    monkeypatch.setattr("journal.logview.PARALLEL_CHECK_FROM", 0)  # as for a large journal: a second process
    for args in (["log"], ["log", "--json"]):
        result = cli(*args, J, str(world.journal))
        assert result.exit_code == 0 and "WARNING" in result.stderr and "verify" in result.stderr, args


def test_an_apply_lists_a_screenful_of_applied_operations_and_every_one_left_out(tmp_path: Path) -> None:
    from fixtures.generator import HomeSpec, build_home

    built = build_home(tmp_path / "home", HomeSpec(sessions=60, providers=("openai", "azure"),
                                                   current_provider="azure", archived_share=0.0, seed=9))
    moving = sum(1 for s in built.sessions.values() if s.provider == "openai")
    assert moving > 25
    result = cli("run", "migrate-provider", "--apply", "--codex-home", str(built.root))
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert sum(1 for line in lines if line.startswith("  applied ")) == 20
    assert f"… and {moving - 20} more applied" in result.stdout and "codex-sessions show" in result.stdout
    undone = cli("undo", lines[-1].split()[-2], "--apply", "--codex-home", str(built.root))
    assert undone.exit_code == 0
    verbose = cli("run", "migrate-provider", "--apply", "--verbose", "--codex-home", str(built.root))
    assert sum(1 for line in verbose.stdout.splitlines() if line.startswith("  applied ")) == moving
