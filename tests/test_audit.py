"""The audit on generated homes at every schema level, one kind of damage at a time."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import VERSIONS, BuiltHome, HomeSpec, build_home
from operations.audit import run_audit
from operations.home import discover
from tests.helpers import cli, cli_json

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _home(tmp_path: Path, version: str = "0.169.0", **kw: Any) -> BuiltHome:
    spec = HomeSpec(version=version, sessions=kw.pop("sessions", 12), archived_share=kw.pop("archived_share", 0.0),
                    exec_share=kw.pop("exec_share", 0.0), providers=kw.pop("providers", ("azure",)), **kw)
    return build_home(tmp_path / "home", spec)


def _audit(built: BuiltHome, cwd: str | None = None) -> dict[str, Any]:
    code, data = cli_json("audit", "--codex-home", str(built.root), *(["--cwd", cwd] if cwd else []))
    assert code == 0, data
    return data["data"]


def _thread(data: dict[str, Any], thread_id: str) -> dict[str, Any]:
    return next(t for t in data["threads"] if t["id"] == thread_id)


@pytest.mark.parametrize(("version", "columns", "migration", "guess"),
                         [("0.128.0", 27, 29, "0.126-0.128"), ("0.144.3", 32, 40, "0.143-0.144"),
                          ("0.169.0", 43, 62, "0.169"), ("0.171.0", 43, 64, "0.171")])
def test_healthy_home_at_each_schema_level(tmp_path: Path, version: str, columns: int, migration: int,
                                           guess: str) -> None:
    built = _home(tmp_path, version, sessions=10, archived_share=0.3, providers=("azure",), seed=3)
    data = _audit(built)
    archived = sum(1 for s in built.sessions.values() if s.archived)
    assert data["schema"]["max_migration"] == migration and len(data["schema"]["threads_columns"]) == columns
    assert data["schema"]["codex_version_guess"] == guess and data["schema"]["writable"] is True
    assert data["counts"] == {"sessions_rollouts": 10 - archived, "archived_rollouts": archived,
                              "rollouts_total": 10, "threads_total": 10, "threads_active": 10 - archived,
                              "threads_archived": archived, "sessions_total": 10}
    assert data["integrity_problem_count"] == 0 and data["problems"] == {}
    assert data["visibility"]["ide"]["hidden"] == archived
    assert data["visibility"]["ide"]["by_reason"] == ({"archived": archived} if archived else {})
    assert cli("audit", "--codex-home", str(built.root), "--check").exit_code == 0


DAMAGE_EXPECTATIONS = {
    "orphan": ({"disk_not_in_db"}, {"disk_not_in_db_count": 1}),
    "active_orphan": ({"disk_not_in_db", "active_orphan"}, {"disk_not_in_db_count": 1, "active_orphan_count": 1}),
    "missing_file": ({"missing_rollout_path", "db_not_on_disk"},
                     {"missing_rollout_path_count": 1, "db_not_on_disk_count": 1}),
    "moved_file": ({"missing_rollout_path", "stale_rollout_path"}, {"missing_rollout_path_count": 1}),
    "duplicate": ({"duplicate_rollout_id"}, {"duplicate_rollout_id_count": 1}),
    "archived_flag_mismatch": ({"archived_mismatch"}, {}),
    "meta_id_mismatch": ({"meta_id_mismatch"}, {}),
    "provider_mismatch": ({"provider_mismatch"}, {}),
    "undefined_provider": ({"undefined_provider"}, {}),
    "empty_preview": ({"empty_preview"}, {}),
    "outside_home": ({"rollout_path_outside_home", "missing_rollout_path", "stale_rollout_path"},
                     {"missing_rollout_path_count": 1}),
    "plain_and_zst": ({"plain_and_zst", "duplicate_rollout_id"}, {"duplicate_rollout_id_count": 0}),
    "not_json": ({"unreadable_file"}, {}),
    "bom": ({"unreadable_file"}, {}),
    "empty_file": ({"unreadable_file"}, {}),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", sorted(DAMAGE_EXPECTATIONS))
def test_each_kind_of_damage_is_found_with_its_reason(tmp_path: Path, version: str, kind: str) -> None:
    built = _home(tmp_path, version, damage={kind: 1})
    data = _audit(built)
    (damaged,) = built.truth[kind]
    problems, counts = DAMAGE_EXPECTATIONS[kind]
    if kind == "plain_and_zst":
        problems = {"plain_and_zst"}  # a .jsonl and its .jsonl.zst are one file to Codex, not a duplicate
    assert set(_thread(data, damaged)["problems"]) == problems
    others = [t for t in data["threads"] if t["id"] != damaged and t["problems"]]
    assert others == []
    for key, value in counts.items():
        assert data["integrity"][key] == value, key
    expected_check = 4 if problems & {"disk_not_in_db", "db_not_on_disk", "missing_rollout_path",
                                      "duplicate_rollout_id", "archived_mismatch", "meta_id_mismatch",
                                      "provider_mismatch", "rollout_path_outside_home", "plain_and_zst",
                                      "unreadable_file"} else 0
    assert cli("audit", "--codex-home", str(built.root), "--check").exit_code == expected_check


@pytest.mark.parametrize("kind", ["old_format", "flat_layout"])
def test_old_files_without_rows(tmp_path: Path, kind: str) -> None:
    built = _home(tmp_path, damage={kind: 1})
    data = _audit(built)
    (thread_id,) = built.truth[kind]
    t = _thread(data, thread_id)
    assert set(t["problems"]) == {"disk_not_in_db", "old_format" if kind == "old_format" else "flat_layout"}
    assert t["ide"]["listed"] is False and any(r.startswith("file:") for r in t["ide"]["reasons"])
    if kind == "old_format":
        assert data["formats"] == {"current": 12, "legacy_pre_2025_09": 1}
    else:
        assert data["locations"] == {"dated": 12, "flat": 1}


def test_visibility_reasons_per_client_and_summary(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=30, providers=("openai", "azure"), archived_share=0.2, exec_share=0.2,
                  seed=5, cwds=("/home/u/a", "/home/u/b"))
    data = _audit(built, cwd="/home/u/a")
    sessions = built.sessions.values()
    by_provider = sum(1 for s in sessions if s.provider != "azure")
    archived = sum(1 for s in sessions if s.archived)
    exec_ = sum(1 for s in sessions if s.source == "exec")
    hidden_ide = sum(1 for s in sessions if s.provider != "azure" or s.archived or s.source == "exec")
    ide = data["visibility"]["ide"]
    assert ide["hidden"] == hidden_ide and ide["total"] == 30
    assert ide["by_reason"] == {k: v for k, v in
                                {"provider": by_provider, "archived": archived, "source": exec_}.items() if v}
    assert ide["summary"].startswith(f"{hidden_ide} of 30 sessions are hidden from the IDE list (app-server "
                                     f"thread/list): "
                                     f"{by_provider} by provider (`openai` ≠ current `azure`)")
    picker = data["visibility"]["picker_cwd"]
    other_cwd = sum(1 for s in sessions if s.cwd != "/home/u/a")
    assert picker["by_reason"]["cwd"] == other_cwd
    listed_in_a = {s.id for s in sessions if s.provider == "azure" and not s.archived and s.source == "cli"
                   and s.cwd == "/home/u/a"}
    assert {t["id"] for t in data["threads"] if t["picker_cwd"]["listed"]} == listed_in_a
    assert data["visibility"]["picker_all"]["hidden"] == sum(
        1 for s in sessions if s.provider != "azure" or s.archived or s.source != "cli")


def test_explain_gives_reasons_and_exact_commands(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=6, providers=("openai",), archived_share=1.0, seed=2)
    thread_id = next(iter(built.sessions))
    code, data = cli_json("audit", "--codex-home", str(built.root), "--explain", thread_id[:13])
    assert code == 0
    explained = data["data"]
    assert explained["id"] == thread_id and explained["row"]["archived"] == 1
    assert explained["ide"]["reasons"] == ["provider: `openai` ≠ current `azure`", "archived"]
    assert explained["fixes"] == [
        f"codex-sessions run unarchive --thread {thread_id} --apply",
        f"codex-sessions run migrate-provider --to-provider azure --thread {thread_id} --apply"]
    human = cli("audit", "--codex-home", str(built.root), "--explain", thread_id)
    assert "HIDDEN" in human.stdout and "archived" in human.stdout


def test_home_level_findings(tmp_path: Path) -> None:
    built = _home(tmp_path, backfill_complete=False, stale_db=True)
    data = _audit(built)
    assert data["backfill_state"]["status"] == "pending"
    assert data["stale_state_dbs"] == [str(built.root / "state_4.sqlite")]
    assert data["codex_running"]["running"] is False
    text = cli("audit", "--codex-home", str(built.root)).stdout
    assert "backfill_state: pending" in text and "stale older state database" in text


def test_report_matches_the_library_call(tmp_path: Path) -> None:
    built = _home(tmp_path, damage={"orphan": 2, "missing_file": 1})
    report = run_audit(discover(built.root), now=NOW)
    assert report.integrity["disk_not_in_db_count"] == 2
    assert sorted(report.integrity["disk_not_in_db_sample"]) == sorted(built.truth["orphan"])
    assert report.integrity["db_not_on_disk_sample"] == built.truth["missing_file"]


@pytest.mark.parametrize(("setup", "message", "exit_code"), [
    ("missing_home", "no Codex home", 2),
    ("not_codex", "has no `threads` table", 1),  # a database Codex's own recovery should handle: exit 1
    ("not_sqlite", "file is not a database", 1),
    ("two_dbs", "two candidate state databases", 2),
])
def test_clear_errors_not_tracebacks(tmp_path: Path, setup: str, message: str, exit_code: int) -> None:
    home = tmp_path / "home"
    if setup != "missing_home":
        home.mkdir()
    if setup == "not_codex":
        import sqlite3
        sqlite3.connect(home / "state_5.sqlite").execute("CREATE TABLE other (x)").connection.close()
    if setup == "not_sqlite":
        (home / "state_5.sqlite").write_bytes(b"definitely not a database" * 100)
    if setup == "two_dbs":
        build_home(home, HomeSpec(sessions=2))
        (home / "sqlite").mkdir()
        build_home(home / "sqlite-src", HomeSpec(sessions=1))
        (home / "sqlite-src" / "state_5.sqlite").rename(home / "sqlite" / "state_5.sqlite")
    result = cli("audit", "--codex-home", str(home))
    assert result.exit_code == exit_code
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_newer_migration_with_known_shapes_is_writable_with_a_warning(tmp_path: Path) -> None:
    import sqlite3
    built = _home(tmp_path)
    conn = sqlite3.connect(built.state_db)
    conn.execute("CREATE INDEX idx_from_the_future ON threads(cwd)")
    conn.execute("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) "
                 "VALUES (99, 'from the future', 1, x'00', 0)")
    conn.commit()
    conn.close()
    data = _audit(built)
    assert data["schema"]["known"] is False and data["schema"]["writable"] is True
    assert data["counts"]["threads_total"] == 12
    assert any("migration 99, newer than any this tool has seen (64, Codex 0.171.0); writes are allowed" in w
               for w in data["warnings"]), data["warnings"]


def test_the_desktop_app_shows_only_the_50_most_recent(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=60)
    data = _audit(built)
    assert data["visibility"]["ide"]["hidden"] == 0
    desktop = data["visibility"]["desktop"]
    assert desktop["hidden"] == 10 and desktop["by_reason"] == {"recent window": 10}
    oldest = {s.id for s in sorted(built.sessions.values(), key=lambda s: s.mtime_ns)[:10]}
    assert {t["id"] for t in data["threads"] if not t["desktop"]["listed"]} == oldest
    reasons = [t["desktop"]["reasons"][0] for t in data["threads"] if not t["desktop"]["listed"]]
    ranks = sorted(int(r.split("number ")[1].split(" ")[0]) for r in reasons)
    assert ranks == list(range(51, 61)) and all("50 most recent" in r for r in reasons)


def test_the_parallel_scan_equals_the_serial_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import operations.rollouts as rollouts

    built = _home(tmp_path, sessions=30, damage={"not_json": 1, "plain_and_zst": 1, "old_format": 1})
    serial = rollouts.scan_rollouts(built.root, workers=1)
    monkeypatch.setattr(rollouts, "PARALLEL_FROM", 1)
    monkeypatch.setattr(rollouts, "CHUNK", 7)
    parallel = rollouts.scan_rollouts(built.root, workers=2)
    assert parallel == serial and len(serial) == 32


@pytest.mark.parametrize(("ahead_s", "live"), [(60, True), (3600, False), (365 * 86400, False)])
def test_a_rollout_modified_in_the_future(tmp_path: Path, ahead_s: int, live: bool) -> None:
    """Within 5 minutes ahead is clock jitter (just written: live). Further ahead (a copied home,
    a skewed clock) the mtime says nothing about liveness: reported, and importable."""
    import os

    from tests.codexhome import run

    built = _home(tmp_path, damage={"orphan": 1})
    (orphan,) = built.truth["orphan"]
    path = built.sessions[orphan].path
    ahead_ns = int((NOW.timestamp() + ahead_s) * 1e9)
    os.utime(path, ns=(ahead_ns, ahead_ns))
    thread = _thread(_audit(built), orphan)
    assert ("active_orphan" in thread["problems"]) is live
    assert ("future_mtime" in thread["problems"]) is not live
    code, data = run(built.root, "import-orphans", "--apply")
    if live:
        assert code == 3 and data["data"]["plan"]["operations"] == [], data
    else:
        assert code == 0 and [op["subject"] for op in data["data"]["plan"]["operations"]] == [orphan], data
        assert path.stat().st_mtime_ns == ahead_ns  # the mtime is kept


def test_a_rescan_takes_unchanged_files_as_read_and_reads_every_changed_one(tmp_path: Path) -> None:
    """The audit after a run reuses what the audit before it read, for files not touched since:
    a file rewritten with the same size and mtime (as an edit keeps them) is still read again."""
    from operations.rollouts import scan_rollouts

    built = build_home(tmp_path / "home", HomeSpec(sessions=6, providers=("openai",), seed=3))
    first = scan_rollouts(built.root, workers=1)
    edited = next(r for r in first if r.meta and r.meta.model_provider == "openai")
    data = Path(edited.path).read_bytes()
    temp = Path(edited.path + ".tmp")
    temp.write_bytes(data.replace(b'"model_provider":"openai"', b'"model_provider":"opena1"', 1))
    os.utime(temp, ns=(edited.mtime_ns, edited.mtime_ns))
    os.replace(temp, edited.path)  # same size, same mtime, a new inode
    known = {r.path: r for r in first}
    again = scan_rollouts(built.root, workers=1, known=known)
    assert [r.path for r in again] == [r.path for r in first]
    assert all(a is known[a.path] for a in again if a.path != edited.path)  # taken as read
    fresh = next(a for a in again if a.path == edited.path)
    assert fresh is not known[edited.path] and fresh.meta is not None and fresh.meta.model_provider == "opena1"


def test_a_config_codex_refuses_is_reported_and_migrations_need_a_named_provider(tmp_path: Path) -> None:
    """A [model_providers.openai] table (reserved; checked against the binaries in
    test_codex_audit) makes Codex refuse config.toml: the audit says so and models Codex's
    fallback to `openai`; a migration to config.toml's provider is refused until it is named."""
    from operations.codex_config import read_config

    built = build_home(tmp_path / "home", HomeSpec(sessions=4, providers=("openai", "azure"), seed=5))
    config = built.root / "config.toml"
    config.write_text('model_provider = "azure"\n[model_providers.azure]\nname = "azure"\n'
                      '[model_providers.OpenAI]\nname = "fine: ids are case-sensitive"\n')
    assert read_config(built.root).error is None and read_config(built.root).model_provider == "azure"
    config.write_text(config.read_text() + '[model_providers.openai]\nname = "x"\n'
                      '[model_providers.ollama]\nname = "y"\n')
    got = read_config(built.root)
    assert got.error is not None and "(`ollama`, `openai`)" in got.error and got.model_provider == "openai"
    code, data = cli_json("audit", "--codex-home", str(built.root))
    assert code == 0 and any("reserved built-in provider IDs" in w for w in data["data"]["warnings"])
    for args in (["fix"], ["run", "migrate-provider"]):
        code, refused = cli_json(*args, "--codex-home", str(built.root))
        assert code == 3 and refused["errors"][0]["code"] == "config_refused", args
    code, named = cli_json("run", "migrate-provider", "--to-provider", "openai", "--codex-home", str(built.root))
    assert code == 0 and named["data"]["plan"]["operations"], named
