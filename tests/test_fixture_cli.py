"""The fixture generator's command line (fixtures/cli.py): every knob reaches the home it builds,
values are checked before anything is written, and a non-empty folder it did not make is never
touched, whatever the options."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import orjson
import pytest

from fixtures.cli import KNOBS, main, parser, spec_from_args
from fixtures.desktop import STATE_FILE
from fixtures.folder import MARKER, read_marker
from fixtures.generator import DAMAGE_HELP, DAMAGE_KINDS, HomeSpec, schema_for

ROOT = Path(__file__).resolve().parent.parent


def build(out: Path, *args: str) -> dict[str, Any]:
    """Build through the command line; the marker's record of what was built."""
    assert main([str(out), *args]) == 0
    record = read_marker(out)
    assert record is not None and record["complete"] is True
    return record


def rows(home: Path, sql: str = "SELECT * FROM threads") -> list[dict[str, Any]]:
    conn = sqlite3.connect(home / "state_5.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def rollouts(home: Path) -> list[Path]:
    return sorted(p for folder in ("sessions", "archived_sessions") if (home / folder).exists()
                  for p in (home / folder).rglob("rollout-*"))


def first_line(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        line: dict[str, Any] = orjson.loads(handle.readline())
    return line


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"", p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def test_every_homespec_knob_is_an_option_and_reaches_the_spec() -> None:
    assert set(KNOBS.values()) == {f.name for f in fields(HomeSpec)}
    args = parser().parse_args([
        "OUT", "--version", "0.171.0", "--sessions", "9", "--providers", "p1,p2", "--current-provider", "p2",
        "--defined-providers", "p2,p3", "--cwds", "/w/a,/w/b", "--archived-share", "0.5", "--exec-share", "0.25",
        "--compressed-share", "0.75", "--turns", "4", "--instructions-chars", "100", "--seed", "7",
        "--start", "2025-01-01T00:00:00+00:00", "--now", "2025-03-01T00:00:00+00:00",
        "--damage", "orphan=1", "bom=2", "--damage", "old_format=3", "--backfill-pending", "--stale-db"])
    spec, default = spec_from_args(args), HomeSpec()
    unchanged = [f.name for f in fields(HomeSpec) if getattr(spec, f.name) == getattr(default, f.name)]
    assert unchanged == []  # every knob given was taken
    assert spec.providers == ("p1", "p2") and spec.defined_providers == ("p2", "p3")
    assert spec.damage == {"orphan": 1, "bom": 2, "old_format": 3}
    assert spec.backfill_complete is False and spec.stale_db is True and spec.now.month == 3


def test_help_lists_every_damage_kind_from_the_generators_list() -> None:
    assert list(DAMAGE_HELP) == list(DAMAGE_KINDS)
    text = parser().format_help()
    for kind in DAMAGE_KINDS:
        assert f"  {kind} " in text


def test_counts_version_providers_and_cwds_reach_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build(home, "--sessions", "11", "--version", "0.128.0", "--providers", "alpha,beta",
          "--current-provider", "beta", "--defined-providers", "beta,gamma", "--cwds", "/w/one,/w/two",
          "--archived-share", "0", "--exec-share", "0")
    threads = rows(home)
    assert len(threads) == 11 and len(rollouts(home)) == 11
    assert {t["cli_version"] for t in threads} == {"0.128.0"}
    newest = max(m["version"] for m in schema_for("0.128.0")["databases"]["state_5.sqlite"]["migrations"])
    assert rows(home, "SELECT max(version) AS v FROM _sqlx_migrations")[0]["v"] == newest
    assert not (home / "thread_history_1.sqlite").exists()  # 0.128 has no projection cache
    assert {t["model_provider"] for t in threads} == {"alpha", "beta"}
    assert {first_line(p)["payload"]["model_provider"] for p in rollouts(home)} == {"alpha", "beta"}
    assert {t["cwd"] for t in threads} == {"/w/one", "/w/two"}
    config = (home / "config.toml").read_text()
    assert 'model_provider = "beta"' in config
    assert "[model_providers.beta]" in config and "[model_providers.gamma]" in config
    assert "[model_providers.alpha]" not in config


@pytest.mark.parametrize(("share", "archived"), [("0", 0), ("1", 8)])
def test_archived_share(tmp_path: Path, share: str, archived: int) -> None:
    home = tmp_path / "home"
    build(home, "--sessions", "8", "--archived-share", share)
    assert sum(t["archived"] for t in rows(home)) == archived
    assert len(list((home / "archived_sessions").glob("rollout-*"))) == archived


def test_exec_and_compressed_shares(tmp_path: Path) -> None:
    home = tmp_path / "home"
    record = build(home, "--sessions", "6", "--exec-share", "1", "--compressed-share", "1")
    assert {t["source"] for t in rows(home)} == {"exec"}
    files = rollouts(home)
    assert len(files) == 6 and all(p.name.endswith(".jsonl.zst") for p in files)
    assert len(record["truth"]["compressed"]) == 6


def test_turns_instructions_and_dates(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build(home, "--sessions", "5", "--turns", "3", "--instructions-chars", "321",
          "--start", "2025-02-01T00:00:00+00:00", "--now", "2025-02-11T00:00:00+00:00", "--archived-share", "0")
    for path in rollouts(home):
        lines = path.read_bytes().splitlines()
        assert sum(b'"type":"task_started"' in line for line in lines) == 3
        assert len(orjson.loads(lines[0])["payload"]["base_instructions"]["text"]) == 321
    created = [t["created_at"] for t in rows(home)]
    assert min(created) >= 1_738_368_000 and max(created) < 1_739_232_000  # 2025-02-01 .. 2025-02-11 UTC
    turns = sqlite3.connect(home / "thread_history_1.sqlite")
    try:
        assert turns.execute("SELECT count(*) FROM thread_turns").fetchone()[0] == 15
    finally:
        turns.close()


def test_the_seed_decides_the_ids(tmp_path: Path) -> None:
    ids = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        build(tmp_path / name, "--sessions", "4", "--seed", seed)
        ids[name] = sorted(t["id"] for t in rows(tmp_path / name))
    assert ids["a"] == ids["b"] and ids["a"] != ids["c"]


def test_damage_truth_is_in_the_home_and_the_marker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    record = build(home, "--sessions", "12", "--archived-share", "0",
                   "--damage", "orphan=2", "moved_file=1", "--damage", "missing_file=1", "old_format=2")
    truth = {kind: ids for kind, ids in record["truth"].items() if ids}
    assert {kind: len(ids) for kind, ids in truth.items()} == {"orphan": 2, "moved_file": 1, "missing_file": 1,
                                                               "old_format": 2}
    assert record["spec"]["damage"] == {"orphan": 2, "moved_file": 1, "missing_file": 1, "old_format": 2}
    by_id = {t["id"]: t for t in rows(home)}
    assert len(by_id) == 10 and not set(truth["orphan"]) & set(by_id)
    (moved,) = truth["moved_file"]
    assert not Path(by_id[moved]["rollout_path"]).exists()
    assert [p.name for p in (home / "sessions" / "2020" / "01" / "01").iterdir()][0].endswith(f"{moved}.jsonl")
    (missing,) = truth["missing_file"]
    assert not Path(by_id[missing]["rollout_path"]).exists()
    assert not any(missing in p.name for p in rollouts(home))
    names = " ".join(p.name for p in rollouts(home))
    assert all(thread in names for thread in truth["old_format"] + truth["orphan"])
    assert len(rollouts(home)) == 12 - 1 + 2  # the missing one gone, two old-format files added


def test_backfill_pending_and_a_stale_db(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build(home, "--sessions", "3", "--backfill-pending", "--stale-db")
    assert rows(home, "SELECT status FROM backfill_state")[0]["status"] == "pending"
    assert (home / "state_4.sqlite").is_file()
    plain = tmp_path / "plain"
    build(plain, "--sessions", "3")
    assert rows(plain, "SELECT status FROM backfill_state")[0]["status"] == "complete"
    assert not (plain / "state_4.sqlite").exists()


def test_desktop_layers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    record = build(home, "--sessions", "9", "--version", "0.171.0", "--cwds", "/w/app,/w/lib",
                   "--damage", "orphan=1", "--desktop", "wiped", "--catalog", "34")
    assert record["projects"] == ["app", "lib"]
    projects = rows(home, "SELECT p.name, r.path FROM projects p JOIN project_roots r ON r.project_id = p.id")
    assert sorted((p["name"], p["path"]) for p in projects) == [("app", "/w/app"), ("lib", "/w/lib")]
    assert all(t["project_id"] for t in rows(home))  # every thread with a row sits in its cwd's project
    state = json.loads((home / STATE_FILE).read_text())
    assert state["local-projects"] == {} and "thread-project-assignments" not in state  # the wiped shape
    catalog = sqlite3.connect(home / "sqlite" / "codex-dev.db")
    try:
        assert catalog.execute("PRAGMA user_version").fetchone()[0] == 34
        assert catalog.execute("SELECT count(*) FROM local_thread_catalog").fetchone()[0] == 8
    finally:
        catalog.close()


@pytest.mark.parametrize(("args", "message"), [
    (["--sessions", "-1"], "must be 0 or more"),
    (["--sessions", "many"], "not a whole number"),
    (["--archived-share", "1.5"], "a share is between 0 and 1"),
    (["--turns", "0"], "must be 1 or more"),
    (["--version", "0.1.0"], "invalid choice"),
    (["--providers", "ok,bad name"], "not a provider id"),
    (["--providers", "a,a"], "named twice"),
    (["--defined-providers", "azure,openai"], "would make Codex refuse config.toml"),
    (["--cwds", "/a,,/b"], "an empty folder"),
    (["--start", "2025-01-01T00:00:00"], "give a time zone"),
    (["--now", "yesterday"], "not an ISO 8601"),
    (["--start", "2025-02-01T00:00:00+00:00", "--now", "2025-01-01T00:00:00+00:00"], "must come after"),
    (["--damage", "orphan"], "expected KIND=COUNT"),
    (["--damage", "gremlins=1"], "unknown damage kind 'gremlins'"),
    (["--damage", "orphan=x"], "not a whole number"),
    (["--damage", "orphan=1", "--damage", "orphan=2"], "names orphan twice"),
    (["--sessions", "3", "--damage", "orphan=2", "bom=2"], "takes 4 sessions but the home has 3"),
    (["--version", "0.144.3", "--desktop", "healthy"], "need a release with projects"),
    (["--sessions", "1", "--damage", "orphan=1", "--desktop", "dangling_assignment"], "at least one session"),
    (["--desktop", "shattered"], "invalid choice"),
    (["--catalog", "31"], "invalid choice"),
])
def test_bad_values_are_refused_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           args: list[str], message: str) -> None:
    out = tmp_path / "home"
    with pytest.raises(SystemExit) as exc:
        main([str(out), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_non_empty_folder_it_did_not_make_is_refused_and_untouched(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "my-home"
    (mine / "sessions").mkdir(parents=True)
    (mine / "sessions" / "precious.jsonl").write_bytes(b'{"keep": "me"}\n')
    (mine / "config.toml").write_text('model = "o3"\n')
    before = snapshot(mine)
    assert main([str(mine), "--sessions", "2"]) == 2
    assert "not made by the generator" in capsys.readouterr().err
    assert main(["--sample", str(mine)]) == 2  # the sample follows the same rule
    assert snapshot(mine) == before


@pytest.mark.parametrize("marker", [b"", b"not json", b'{"made_by": "someone else"}', b"[1, 2]"])
def test_a_marker_that_is_not_the_generators_does_not_count(tmp_path: Path, marker: bytes) -> None:
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / MARKER).write_bytes(marker)
    (folder / "notes.txt").write_text("mine")
    before = snapshot(folder)
    assert main([str(folder)]) == 2
    assert snapshot(folder) == before


def test_a_file_or_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main([str(target)]) == 2
    assert target.read_text() == "x"
    made = tmp_path / "made"
    build(made, "--sessions", "1")
    link = tmp_path / "link"
    link.symlink_to(made, target_is_directory=True)
    before = snapshot(made)
    assert main([str(link)]) == 2  # even a link to one of its own homes: it replaces only a real folder
    assert snapshot(made) == before


def test_an_empty_folder_is_taken_and_its_own_folder_is_replaced_whole(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    first = build(home, "--sessions", "5")
    first_ids = {t["id"] for t in rows(home)}
    (home / "left-by-a-test.txt").write_text("scratch")
    second = build(home, "--sessions", "3", "--seed", "9")
    assert first["spec"]["sessions"] == 5 and second["spec"]["sessions"] == 3
    assert len(rows(home)) == 3 and not first_ids & {t["id"] for t in rows(home)}
    assert len(rollouts(home)) == 3  # nothing of the first build is left
    assert not (home / "left-by-a-test.txt").exists()


def test_the_sample_is_built_and_rebuilt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sample"
    for _ in range(2):
        assert main(["--sample", str(out)]) == 0
    record = read_marker(out)
    assert record is not None and record["spec"]["sessions"] == 24
    assert len(rows(out)) == 22  # two orphans
    with pytest.raises(SystemExit):
        main(["--sample", str(out), "--sessions", "3"])
    assert "--sample takes no knobs (--sessions given)" in capsys.readouterr().err


def test_the_module_entry_point_refuses_a_foreign_folder(tmp_path: Path) -> None:
    """`python -m fixtures.generator`, as scripts/try and people run it."""
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("keep")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "fixtures.generator", str(foreign), "--sessions", "2"],
                          capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "refused" in proc.stderr and (foreign / "keep.txt").read_text() == "keep"
    built = tmp_path / "built"
    proc = subprocess.run([sys.executable, "-m", "fixtures.generator", str(built), "--sessions", "2",
                           "--damage", "orphan=1"], capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "'orphan': 1" in proc.stdout and len(rows(built)) == 1
